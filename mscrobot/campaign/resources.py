"""Which shared resources a step uses, by step kind: one table, so new kinds slot in.

Three kinds of resource: the robot arm (``robot``: every liquid-handling step), the spectrometer
with its single flow cell (``spectrometer``), and the run's own stir position (``position``,
held by the run from its first step on the reaction vial to its last step, so waits and settles
hold nothing shared, and the reference blanks before the vial is first used need no position).
The flow cell is a *lease*: a sample drawn into it occupies it until the cell is flushed
(``discard``), so another vial's sample can never land on top of it. A step kind missing from
the table holds every shared resource for its duration: slow, but never double-booked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ROBOT = "robot"
SPECTROMETER = "spectrometer"
POSITION = "position"
#: The speed of a device that turns several positions at one speed: held from ``stir`` to
#: ``stop_stir`` at the run's rpm, by any number of runs at that same rpm (``Scheduler``).
SPEED = "speed"
SHARED = frozenset({ROBOT, SPECTROMETER})


@dataclass(frozen=True)
class Use:
    """Resources held for the step (``during``), or from this step until a later one closes
    them (``opens``/``closes``: the flow cell from sample to discard)."""

    during: frozenset[str] = frozenset()
    opens: frozenset[str] = frozenset()
    closes: frozenset[str] = frozenset()

    @property
    def shared(self) -> frozenset[str]:
        """Shared resources this step needs while it runs (a lease it opens counts)."""
        return (self.during | self.opens) & SHARED


def _on_reaction(params: Mapping[str, Any]) -> bool:
    return "reaction" in (params.get("vessel"), params.get("source"), params.get("dest"))


def _sample(params: Mapping[str, Any]) -> Use:
    position = {POSITION} if params.get("vessel", "reaction") == "reaction" else set()
    return Use(frozenset({ROBOT, *position}), opens=frozenset({SPECTROMETER}))


def _dispense(params: Mapping[str, Any]) -> Use:
    return Use(frozenset({ROBOT, *({POSITION} if _on_reaction(params) else ())}))


_CELL = Use(frozenset({SPECTROMETER}))
_STIR = Use(frozenset({POSITION}))

#: kind → resources, from the step's parameters (``Step.params()``).
USES: dict[str, Callable[[Mapping[str, Any]], Use]] = {
    "dispense": _dispense,
    "sample": _sample,
    "measure": lambda p: _CELL,
    "reference": lambda p: _CELL,
    "transfer": lambda p: Use(frozenset({ROBOT, SPECTROMETER, POSITION})),
    "discard": lambda p: Use(frozenset({ROBOT, SPECTROMETER}),
                             closes=frozenset({SPECTROMETER})),
    "stir": lambda p: Use(frozenset({POSITION}), opens=frozenset({SPEED})),
    "stop_stir": lambda p: Use(frozenset({POSITION}), closes=frozenset({SPEED})),
    "wait": lambda p: _STIR,
    "settle": lambda p: _STIR,
    "decide": lambda p: Use(),
    "ask_operator": lambda p: Use(),
}
UNKNOWN = Use(frozenset({ROBOT, SPECTROMETER, POSITION}))


def uses(kind: str, params: Mapping[str, Any]) -> Use:
    """What a step of ``kind`` with ``params`` holds (every shared resource if unknown)."""
    rule = USES.get(kind)
    return UNKNOWN if rule is None else rule(params)
