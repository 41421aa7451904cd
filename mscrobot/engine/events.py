"""What the engine tells whoever watches a run (the CLI's progress, a dry run's collector).

Kept apart from the engine and free of heavy imports, so a display can name event kinds
without loading the engine.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mscrobot.procedure.steps import Outcome, Step


class EventKind(StrEnum):
    """What an ``Event`` reports."""

    #: step ``n`` was executed (not replayed from the journal); ``outcome`` is what it did
    STEP = "step"
    #: the plan reached a verdict: ``step`` is its ``Decide`` (sent before its STEP event)
    VERDICT = "verdict"
    #: the run moved to another ``RunState``; ``message`` is the state and the reason
    STATE = "state"
    #: step ``n`` failed with a transient device error and is tried again (``message``: why)
    RETRY = "retry"
    #: before step ``n`` of a resumed run, the stirrer was set back to the speed it stirred at
    RESTORE = "restore"


@dataclass
class Event:
    """One thing that happened in a run: its ``kind``, the step ``n`` it concerns (0 for a
    state change), and the clock ``lab_t`` when it happened."""

    kind: EventKind
    n: int
    step: Step[Any] | None = None
    outcome: Outcome[Any] | None = None
    lab_t: float = 0.0
    message: str = ""


class StopRequest(threading.Event):
    """A request to stop safely at the next step boundary that says who made it; the engine
    puts ``by`` in the state's reason (a plain ``threading.Event`` is a Ctrl-C), and leaves the
    run ``paused`` rather than ``stopped`` when ``pause`` is asked for."""

    def __init__(self, by: str = "Ctrl-C") -> None:
        super().__init__()
        self.by = by
        self.pause = False

    def request(self, by: str, pause: bool = False) -> None:
        self.by, self.pause = by, pause
        self.set()
