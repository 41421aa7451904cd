"""Helpers for crashing runs in process: what a kill at a crash point leaves on disk.

A SIGKILL leaves every file as it was at that instant (the OS closes them; nothing more is
written), so the files read at a crash point are what a killed run leaves. An in-process
``SimulatedCrash`` is only a kill if unwinding writes nothing durable: ``durable_state`` reads
files the way a resumed process would (SQLite recovering its WAL, the logs' bytes), so a test
compares the state at the crash point with the state after the exception unwound.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from mscrobot.engine.journal import JOURNAL_NAME

#: Not state: the lock is taken afresh, SQLite rebuilds the WAL index from the WAL.
NOT_DURABLE = ("lock", JOURNAL_NAME + "-shm")


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
