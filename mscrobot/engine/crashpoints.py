"""Fault injection for the crash matrix: die by SIGKILL at the N-th crash point.

Crash points sit around every durable write (journal commits, simulated-world events), so a test
can kill a run at any of them, including between a device acting and the journal hearing of it.
Inert unless ``MSCROBOT_CRASH_AT`` is set; costs one integer increment per point otherwise.
"""

from __future__ import annotations

import os
import signal

_target = int(os.environ.get("MSCROBOT_CRASH_AT", "0") or 0)
_count = 0


def crashpoint() -> None:
    global _count
    _count += 1
    if _target and _count == _target:
        os.kill(os.getpid(), signal.SIGKILL)


def count() -> int:
    """Crash points passed so far (a test counts a whole run's points this way)."""
    return _count
