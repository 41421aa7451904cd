"""Byte-level transcripts of OBP/TCP conversations, for record/replay tests and for debugging a
real line (what exactly went out to the HDX, what exactly came back).

``RecordingProxy`` sits between the driver and a device (or emulator) on a local port and
records every byte each way, per connection. A transcript is a list of ``(connection, direction,
bytes)`` with ``"w"`` for what the driver wrote and ``"r"`` for what the device sent
(consecutive chunks of one direction merged), saved as JSON with the bytes in hex.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from pathlib import Path

Transcript = list[tuple[int, str, bytes]]


class RecordingProxy:
    """A TCP proxy on 127.0.0.1 that forwards to ``target`` and records both directions."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.log: Transcript = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._connections = 0
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, name="obp-recorder", daemon=True).start()

    @property
    def address(self) -> str:
        host, port = self._server.getsockname()[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        self._server.close()
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            device = socket.create_connection(self.target)
            for sock in (client, device):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._open += [client, device]
            with self._lock:
                conn = self._connections
                self._connections += 1
            for src, dst, direction in ((client, device, "w"), (device, client, "r")):
                threading.Thread(target=self._pump, args=(conn, src, dst, direction),
                                 daemon=True).start()

    def _pump(self, conn: int, src: socket.socket, dst: socket.socket, direction: str) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                return
            with self._lock:
                last = self.log[-1] if self.log else None
                if last is not None and last[:2] == (conn, direction):
                    self.log[-1] = (conn, direction, last[2] + data)
                else:
                    self.log.append((conn, direction, data))
            try:
                dst.sendall(data)
            except OSError:
                return


def save(log: Transcript, path: Path) -> None:
    rows = [json.dumps({"conn": c, "dir": d, "hex": b.hex()}) for c, d, b in log]
    path.write_text("[\n" + ",\n".join(rows) + "\n]\n", encoding="utf-8")


def load(path: Path) -> Transcript:
    return [(int(row["conn"]), str(row["dir"]), bytes.fromhex(row["hex"]))
            for row in json.loads(path.read_text(encoding="utf-8"))]
