"""The emulated rig's shutter line: an RFC 2217 serial server whose RTS (or DTR) closes the
emulated lamp's shutter, as a USB-serial adapter's pin wired to a shutter's TTL input would.

It speaks RFC 2217 with pyserial's own server side (``serial.rfc2217.PortManager``), so the
driver's ``rfc2217://`` client negotiates, sets the line and waits for the acknowledgement as it
does with a real serial server. The "port" behind it is pyserial's ``loop://`` (the shutter's
position-sense output reads back on CTS/DSR) with its line changes reported to ``on_change``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

import serial
from serial.rfc2217 import PortManager
from serial.urlhandler.protocol_loop import Serial as LoopSerial


class _Line(LoopSerial):  # type: ignore[misc]
    """A loop:// port whose RTS/DTR changes are told to ``on_change(line, level)``."""

    on_change: Callable[[str, bool], None] = staticmethod(lambda line, level: None)

    def _update_rts_state(self) -> None:
        super()._update_rts_state()
        self.on_change("rts", bool(self._rts_state))

    def _update_dtr_state(self) -> None:
        super()._update_dtr_state()
        self.on_change("dtr", bool(self._dtr_state))


class _Writer:
    def __init__(self, conn: socket.socket) -> None:
        self.conn, self.lock = conn, threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            self.conn.sendall(data)


class ShutterServer:
    """Serves one RFC 2217 client at a time on ``host:port``; ``closed`` follows the line."""

    def __init__(
        self,
        on_change: Callable[[bool], None],
        *,
        line: str = "rts",
        closed_high: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.line, self.closed_high = line, closed_high
        self._notify = on_change
        self.closed = False
        self.changes = 0
        self._server = socket.create_server((host, port))
        self._stop = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> ShutterServer:
        threading.Thread(target=self._accept, name="shutter-rfc2217", daemon=True).start()
        return self

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()

    def _on_change(self, line: str, level: bool) -> None:
        if line != self.line:
            return
        self.closed = level == self.closed_high
        self.changes += 1
        self._notify(self.closed)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        port = _Line()
        port.rts = port.dtr = not self.closed_high  # at rest: open, until the client sets it
        port.on_change = self._on_change
        port.port = "loop://"
        port.open()
        manager = PortManager(port, _Writer(conn))
        conn.settimeout(0.2)
        try:
            while not self._stop.is_set():  # one thread: a shutter has one client at a time
                try:
                    data = conn.recv(1024)
                except TimeoutError:
                    manager.check_modem_lines()
                    continue
                if not data:
                    return
                for _ in manager.filter(data):
                    pass  # bytes for the "port": a shutter line carries none
        except (OSError, serial.SerialException):
            return
        finally:
            port.close()
