"""A light-source shutter on its own TTL line: one modem-control output of a serial port.

Many rigs wire a shutter's TTL input (an Ocean INLINE-TTL, a lamp's shutter port) to the RTS or
DTR pin of a USB-serial adapter; pyserial drives that pin on a real port (``/dev/ttyUSB1``) and,
over a network, on a serial server speaking RFC 2217 (``rfc2217://host:port``), which
acknowledges each change before pyserial returns. No bytes are sent: the level is the command.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from mscrobot.lab.protocols import DeviceFaultError, TransientDeviceError

log = logging.getLogger(__name__)


class TtlShutter:
    """``close(True)`` closes the shutter, ``close(False)`` opens it; the line is left at the
    open level on ``release()`` (a run never ends with the lamp shut out)."""

    def __init__(
        self, url: str, line: str = "rts", closed_high: bool = True, timeout_s: float = 2.0
    ) -> None:
        if line not in ("rts", "dtr"):
            raise ValueError(f"shutter line {line!r}: rts or dtr")
        self.url, self.line, self.closed_high, self.timeout_s = url, line, closed_high, timeout_s
        self._port: Any = None
        self._lock = threading.Lock()
        self.closed: bool | None = None

    def open(self) -> TtlShutter:
        """Connect and drive the line to the open level."""
        import serial

        try:
            self._port = serial.serial_for_url(self.url, timeout=self.timeout_s, do_not_open=True)
            # the line's level is set before the port opens, so opening does not pulse it
            setattr(self._port, self.line, not self.closed_high)
            self._port.open()
        except (serial.SerialException, OSError, ValueError) as e:
            self._port = None
            raise DeviceFaultError(f"shutter at {self.url}: cannot open: {e}") from None
        self.closed = False
        return self

    def __call__(self, closed: bool) -> None:
        self.close(closed)

    def close(self, closed: bool = True) -> None:
        """Set the line to the level that closes (or opens) the shutter."""
        import serial

        with self._lock:
            if self._port is None:
                self.open()
            level = closed == self.closed_high
            try:
                setattr(self._port, self.line, level)
            except (serial.SerialException, OSError) as e:
                self._drop()
                raise TransientDeviceError(
                    f"shutter at {self.url}: {self.line.upper()} not set ({e})"
                ) from None
            self.closed = closed

    def release(self) -> None:
        """Open the shutter and close the port."""
        with self._lock:
            if self._port is None:
                return
            try:
                setattr(self._port, self.line, not self.closed_high)
            except Exception as e:  # closing anyway: say so, do not mask the run's end
                log.warning("shutter at %s: not opened on release: %s", self.url, e)
            self._drop()

    def _drop(self) -> None:
        try:
            self._port.close()
        except Exception as e:
            log.debug("shutter at %s: close: %s", self.url, e)
        self._port = None
