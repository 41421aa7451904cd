"""A live progress view for long commands: a rich table on stderr, redrawn as events arrive.

Shown only on a terminal and when not quiet (``--json`` output and pipes stay clean); rich is
imported when a view is made, so importing a CLI module stays cheap.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer


class LiveView:
    """Subclasses say what to draw (``_render``) and call ``refresh`` when it changed."""

    refresh_per_second = 4

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.quiet = quiet
        self.start = time.perf_counter()
        self.live: Any = None

    def __enter__(self) -> Any:
        if not self.quiet and self.console.is_terminal:
            from rich.live import Live

            self.live = Live(self._render(), console=self.console,
                             refresh_per_second=self.refresh_per_second, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())

    def _render(self) -> Any:
        raise NotImplementedError


#: What stops a command safely: Ctrl-C, a `kill` (SIGTERM), the terminal going away (SIGHUP).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def stop_on_ctrl_c(message: str) -> Iterator[threading.Event]:
    """The first Ctrl-C, SIGTERM or SIGHUP sets the event (the work stops safely at its next
    step boundary, and a wait in real time within a second) and prints ``message``; a second
    raises ``KeyboardInterrupt`` at once."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
            typer.echo(message, err=True)

    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
