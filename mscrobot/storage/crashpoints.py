"""Fault injection for the crash matrix: a crash at the N-th crash point, by signal or in process.

Crash points sit around every durable write (journal commits, simulated-world events, the
Opentrons operation log), so a test can crash a run at any of them, including between a device
acting and the journal hearing of it.

Real processes: ``MSCROBOT_CRASH_AT=N`` sends SIGKILL (or the signal named by
``MSCROBOT_CRASH_SIGNAL``, e.g. ``INT`` for a Ctrl-C) at point N; ``MSCROBOT_CRASH_COUNT=FILE``
writes the number of points a run passed when the process exits.

In process: ``with armed(at=N) as points:`` raises ``SimulatedCrash`` at the N-th point passed in
the block (``armed()`` only counts). The crash is a ``BaseException``, so it unwinds through every
``except Exception`` and reaches no code that would record it; an open journal transaction is
rolled back (what SQLite recovers after a kill) and held-back outcomes are lost with memory.
Files are closed as a dying process's are. It is a kill only where the unwinding ``finally``
blocks do nothing durable: on the simulated labs (closing the world's log and an in-process
robot is what the OS does to a killed process), not on a lab whose devices are told to stop on
close (an IKA stirrer stops its motor, a robot over HTTP lets its run go). ``points.after_crash``
counts crash points passed while unwinding, which a kill would never reach: a test asserts it
stays 0. Points are counted from any thread; arm one run at a time.

Inert otherwise: one integer increment and one comparison per point.
"""

from __future__ import annotations

import atexit
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_target = int(os.environ.get("MSCROBOT_CRASH_AT", "0") or 0)
_signal = getattr(signal, "SIG" + os.environ.get("MSCROBOT_CRASH_SIGNAL", "KILL"))
_count = 0


class SimulatedCrash(BaseException):
    """The process 'died' at an armed crash point (``armed``). Never caught by product code."""


@dataclass
class Points:
    """Crash points passed in an ``armed`` block; ``crashed`` once it raised."""

    at: int | None
    on_point: Callable[[int], None] | None = None
    passed: int = 0
    crashed: bool = False
    #: points passed after the crash, while the exception unwound: durable writes a kill skips
    after_crash: int = 0


_armed: Points | None = None


def crashpoint() -> None:
    global _count
    _count += 1
    if _target and _count == _target:
        os.kill(os.getpid(), _signal)
    points = _armed
    if points is None:
        return
    if points.crashed:
        points.after_crash += 1
        return
    points.passed += 1
    if points.on_point is not None:
        points.on_point(points.passed)
    if points.passed == points.at:
        points.crashed = True
        raise SimulatedCrash(f"simulated crash at crash point {points.passed}")


@contextmanager
def armed(at: int | None = None,
          on_point: Callable[[int], None] | None = None) -> Iterator[Points]:
    """Count the crash points passed in the block and, with ``at``, raise ``SimulatedCrash`` at
    the ``at``-th. ``on_point(n)`` is called at each point first (a test snapshots the files a
    kill there would leave). The crash propagates out of the block."""
    global _armed
    if _armed is not None:
        raise RuntimeError("crash points are already armed")
    if at is not None and at < 1:
        raise ValueError(f"crash point numbers start at 1, not {at}")
    points = _armed = Points(at, on_point)
    try:
        yield points
    finally:
        _armed = None


if os.environ.get("MSCROBOT_CRASH_COUNT"):
    atexit.register(lambda: Path(os.environ["MSCROBOT_CRASH_COUNT"]).write_text(str(_count)))
