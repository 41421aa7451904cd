"""Byte-level transcripts of a driver's conversation with a device, for record/replay tests
and for debugging a real line (what exactly went out, what exactly came back).

A transcript is a list of ``(direction, bytes)`` with ``"w"`` for what the driver wrote and
``"r"`` for what it read (consecutive reads merged), saved as JSON with the bytes as
latin-1 strings (NAMUR is ASCII, so the file stays readable).
"""

from __future__ import annotations

import json
from pathlib import Path

from mscrobot.lab.stirrer.ika import Port, PortFactory, open_serial

Transcript = list[tuple[str, bytes]]


class RecordingPort:
    """Wraps a port and appends every byte written or read to ``log``."""

    def __init__(self, port: Port, log: Transcript) -> None:
        self._port = port
        self.log = log

    @property
    def timeout(self) -> float | None:
        return self._port.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self._port.timeout = value

    def write(self, data: bytes, /) -> int | None:
        self._add("w", bytes(data))
        return self._port.write(data)

    def read(self, size: int = 1, /) -> bytes:
        data = self._port.read(size)
        if data:
            self._add("r", data)
        return data

    @property
    def in_waiting(self) -> int:
        return self._port.in_waiting

    def reset_input_buffer(self) -> None:
        self._port.reset_input_buffer()

    def close(self) -> None:
        self._port.close()

    def _add(self, direction: str, data: bytes) -> None:
        if self.log and self.log[-1][0] == direction == "r":
            self.log[-1] = ("r", self.log[-1][1] + data)
        else:
            self.log.append((direction, data))


def recording(log: Transcript, factory: PortFactory = open_serial) -> PortFactory:
    """A port factory for ``IkaStirrer`` that records into ``log``."""
    return lambda url, timeout: RecordingPort(factory(url, timeout), log)


def save(log: Transcript, path: Path) -> None:
    rows = [json.dumps({"dir": d, "data": b.decode("latin-1")}) for d, b in log]
    path.write_text("[\n" + ",\n".join(rows) + "\n]\n", encoding="utf-8")


def load(path: Path) -> Transcript:
    return [(row["dir"], row["data"].encode("latin-1"))
            for row in json.loads(path.read_text(encoding="utf-8"))]
