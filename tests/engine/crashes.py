"""Helpers for crashing runs in process: where a run is at each crash point, and what a kill
there leaves on disk.

``Trace`` records, at every crash point of a run, which files changed and the last event of each
log that did, so a test finds a point by what happened ("just after the first dose").

A SIGKILL leaves every file as it was at that instant (the OS closes them; nothing more is
written), so the files read at a crash point are what a killed run leaves. An in-process
``SimulatedCrash`` is only a kill if unwinding writes nothing durable: ``durable_state`` reads
files the way a resumed process would (SQLite recovering its WAL, the logs' bytes), so a test
compares the state at the crash point with the state after the exception unwound.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mscrobot.engine.journal import JOURNAL_NAME

#: Not state: the lock is taken afresh, SQLite rebuilds the WAL index from the WAL.
NOT_DURABLE = ("lock", JOURNAL_NAME + "-shm")
#: The append-only logs of what happened physically (the simulated world, the robot's commands).
LOGS = ("world.jsonl", "opentrons.jsonl")


def durable_files(folder: Path) -> dict[str, bytes]:
    """The bytes of every file in a run folder that a resumed run reads."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.is_file() and p.name not in NOT_DURABLE}


def durable_state(files: dict[str, bytes], scratch: Path | None = None) -> dict[str, Any]:
    """What a process opening these files finds: the journal's rows as SQL, the other files'
    bytes (the WAL and database file may differ in bytes for the same rows). The journal is
    opened in a copy in ``scratch`` (default: the system's temporary directory)."""
    state: dict[str, Any] = {k: v for k, v in files.items() if not k.startswith(JOURNAL_NAME)}
    with tempfile.TemporaryDirectory(dir=scratch) as d:
        for name, data in files.items():
            if name.startswith(JOURNAL_NAME):
                (Path(d) / name).write_bytes(data)
        if (Path(d) / JOURNAL_NAME).exists():
            db = sqlite3.connect(Path(d) / JOURNAL_NAME)
            try:
                state[JOURNAL_NAME] = list(db.iterdump())
            finally:
                db.close()
    return state


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Lay ``files`` out in a fresh run folder (a snapshot of one taken at a crash point)."""
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


@dataclass
class Point:
    """One crash point of the reference run: the folder it was in (a staging ``.new-…`` one
    before the run exists), the files that changed since the point before, and the last event
    of each log that did."""

    n: int
    folder: str
    changed: frozenset[str]
    events: dict[str, dict[str, Any]]


@dataclass
class Trace:
    """Called at every crash point (``armed(on_point=…)``): records where the run is."""

    runs: Path
    points: list[Point] = field(default_factory=list)
    _sizes: dict[str, int] = field(default_factory=dict)

    def __call__(self, n: int) -> None:
        [folder] = self.runs.iterdir()  # the staging folder, then the run's
        sizes = {p.name: p.stat().st_size for p in folder.iterdir()
                 if p.name not in NOT_DURABLE}
        changed = frozenset(k for k in sizes if sizes[k] != self._sizes.get(k, 0))
        events = {k: _last_event(folder / k) for k in changed & set(LOGS)}
        self.points.append(Point(n, folder.name, changed, events))
        self._sizes = sizes


def _last_event(log: Path) -> dict[str, Any]:
    with log.open("rb") as f:
        f.seek(max(0, log.stat().st_size - 4096))
        return dict(json.loads(f.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]))


def point_after(points: list[Point], log: str, want: Callable[[dict[str, Any]], bool],
                nth: int = 1) -> int:
    """The crash point just after the ``nth`` event of ``log`` that ``want`` accepts: the
    thing happened, and nothing after it was written yet."""
    found = [p.n for p in points if log in p.events and want(p.events[log])]
    assert len(found) >= nth, (log, nth, len(found))
    return found[nth - 1]
