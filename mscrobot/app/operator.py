"""Asking the operator at the terminal to act on the rig (``spectrometer.dark: operator``): the
run prints what to do and waits for Enter, up to a timeout, without stopping the lab's
keepalives (the stirrer's watchdog follows this loop too while it waits)."""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from mscrobot.engine.handlers import WAKE_S  # the same pieces as the engine's waits


class ConsoleOperator:
    """``operator(question, timeout_s)`` → whether the operator pressed Enter in time."""

    def __init__(
        self,
        stdin: TextIO | None = None,
        out: TextIO | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.stdin = stdin or sys.stdin
        self.out = out or sys.stderr
        self.stop = stop
        #: set by the lab once it is built (``Lab.keep_alive``)
        self.keepalive: Callable[[], None] = lambda: None

    def __call__(self, question: str, timeout_s: float) -> bool:
        print(
            f"operator: {question}, then press Enter (waiting up to {timeout_s:g} s)",
            file=self.out,
            flush=True,
        )
        fd = self.stdin.fileno()
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            if self.stop is not None and self.stop.is_set():
                return False
            self.keepalive()
            ready, _, _ = select.select([fd], [], [], min(WAKE_S, left))
            if ready:
                line = os.read(fd, 4096)
                if not line:  # end of input: nobody there to answer
                    return False
                if b"\n" in line:
                    print("operator: done", file=self.out, flush=True)
                    return True
        print(f"operator: no answer within {timeout_s:g} s", file=self.out, flush=True)
        return False


def terminal_operator(stop: threading.Event | None = None) -> ConsoleOperator | None:
    """The operator at this process's terminal, or None when standard input is not one."""
    try:
        return ConsoleOperator(stop=stop) if sys.stdin.isatty() else None
    except (AttributeError, ValueError):
        return None
