"""Append-only JSON-lines logs of physical actions that must outlive the process.

The simulated world and the Opentrons operation log both keep what happened in one: one JSON
line per event, written in a single ``write`` so a killed process leaves each event wholly
recorded or not at all. Reopening replays the complete lines; a last line without its newline
was cut by a crash, is an event that never happened, and is dropped so new lines start cleanly.
Crash points sit on both sides of every write (``mscrobot.storage.crashpoints``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mscrobot.storage.crashpoints import crashpoint

Event = dict[str, Any]


class EventLog:
    """``apply`` is called for each replayed event and for each new one before it is written."""

    def __init__(self, path: Path | None, apply: Callable[[Event], None]) -> None:
        self.apply = apply
        self._fd: int | None = None
        if path is None:
            return
        if path.exists():
            self._replay(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    @staticmethod
    def events(path: Path) -> list[Event]:
        """The complete events in ``path``, read only (a torn last line is left in place)."""
        return [json.loads(line) for line in path.read_bytes().split(b"\n")[:-1]]

    def _replay(self, path: Path) -> None:
        data = path.read_bytes()
        lines = data.split(b"\n")
        for line in lines[:-1]:
            self.apply(json.loads(line))
        if lines[-1]:
            with path.open("r+b") as f:
                f.truncate(len(data) - len(lines[-1]))

    def write(self, event: Event) -> None:
        crashpoint()
        self.apply(dict(event))
        if self._fd is not None:
            os.write(self._fd, (json.dumps(event) + "\n").encode())
        crashpoint()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
