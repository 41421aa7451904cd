"""Fault injection for the crash matrix: a signal to ourselves at the N-th crash point.

Crash points sit around every durable write (journal commits, simulated-world events), so a test
can kill a run at any of them, including between a device acting and the journal hearing of it.
``MSCROBOT_CRASH_AT=N`` sends SIGKILL (or the signal named by ``MSCROBOT_CRASH_SIGNAL``, e.g.
``INT`` for a Ctrl-C) at point N; ``MSCROBOT_CRASH_COUNT=FILE`` writes the number of points a
run passed when the process exits. Inert otherwise: one integer increment per point.
"""

from __future__ import annotations

import atexit
import os
import signal
from pathlib import Path

_target = int(os.environ.get("MSCROBOT_CRASH_AT", "0") or 0)
_signal = getattr(signal, "SIG" + os.environ.get("MSCROBOT_CRASH_SIGNAL", "KILL"))
_count = 0


def crashpoint() -> None:
    global _count
    _count += 1
    if _target and _count == _target:
        os.kill(os.getpid(), _signal)


if os.environ.get("MSCROBOT_CRASH_COUNT"):
    atexit.register(lambda: Path(os.environ["MSCROBOT_CRASH_COUNT"]).write_text(str(_count)))
