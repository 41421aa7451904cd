"""The run's own state machine (not the verdicts'): where a run stands, and how it may move.

Explicit, so a run never sits in a 'running' that nothing is running (bluesky #1012): a killed
run is found 'running' with no live process and is treated as interrupted; every other stop is
one of the named states, and an illegal move raises.
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    AWAITING_OPERATOR = "awaiting_operator"
    STOPPED = "stopped"
    FAILED = "failed"
    COMPLETED = "completed"


_MOVES: dict[RunState, frozenset[RunState]] = {
    RunState.CREATED: frozenset({RunState.RUNNING, RunState.FAILED}),
    RunState.RUNNING: frozenset({RunState.PAUSED, RunState.AWAITING_OPERATOR, RunState.STOPPED,
                                 RunState.FAILED, RunState.COMPLETED,
                                 RunState.RUNNING}),  # running → running: resumed after a kill
    RunState.PAUSED: frozenset({RunState.RUNNING, RunState.STOPPED}),
    RunState.AWAITING_OPERATOR: frozenset({RunState.RUNNING, RunState.STOPPED}),
    RunState.STOPPED: frozenset({RunState.RUNNING}),
    RunState.FAILED: frozenset({RunState.RUNNING}),  # resumed once the fault is fixed
    RunState.COMPLETED: frozenset(),
}

class IllegalRunTransitionError(RuntimeError):
    pass


def check_move(before: RunState, after: RunState) -> None:
    if after not in _MOVES[before]:
        raise IllegalRunTransitionError(f"a run cannot go from {before} to {after}")
