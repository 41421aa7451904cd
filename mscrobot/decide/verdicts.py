"""Verdicts and the actions they ask for: the vocabulary between decisions and the engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class State(StrEnum):
    """Where a stage (forward exchange or back-exchange) stands (DESIGN.md §4)."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    STALLED = "stalled"
    DEGRADED = "degraded"
    AMBIGUOUS = "ambiguous"


class Action(StrEnum):
    """What the engine should do next."""

    CONTINUE = "continue"  # stir another sampling interval, then sample again
    RESETTLE = "resettle"  # do not stir; settle longer and sample again (scatter, droplets)
    RESAMPLE = "resample"  # take a fresh sample now (air, saturation, a bad read)
    EXTEND = "extend"  # stall policy: more stirring time
    ADD_SALT = "add_salt"  # stall policy: dispense more salt solution, then continue
    STOP_FOR_OPERATOR = "stop_for_operator"
    START_BACK_EXCHANGE = "start_back_exchange"
    FINISH = "finish"


#: States a stage cannot leave: a confirmed or damaged vial is not re-judged by later noise.
TERMINAL = frozenset({State.COMPLETE, State.DEGRADED})

#: Legal moves of the verdict state machine; anything else is a bug in the rules.
TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.NOT_STARTED: frozenset(State),
    State.IN_PROGRESS: frozenset(State) - {State.NOT_STARTED},
    # an unreadable pre-exchange sample is ambiguous; once a readable one comes, not started
    State.AMBIGUOUS: frozenset(State),
    State.STALLED: frozenset(State) - {State.NOT_STARTED},
    State.COMPLETE: frozenset({State.COMPLETE}),
    State.DEGRADED: frozenset({State.DEGRADED}),
}


class IllegalTransitionError(RuntimeError):
    """The rules tried to move a verdict where the state machine does not allow."""


def check_transition(before: State, after: State) -> None:
    if after not in TRANSITIONS[before]:
        raise IllegalTransitionError(f"verdict cannot go from {before} to {after}")


@dataclass(frozen=True)
class Verdict:
    """A judgement of one sample in the context of the run so far, with the numbers behind it."""

    state: State
    action: Action
    reasons: tuple[str, ...]
    numbers: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"state": str(self.state), "action": str(self.action),
                "reasons": list(self.reasons), "numbers": dict(self.numbers)}
