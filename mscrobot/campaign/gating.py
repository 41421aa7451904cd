"""A run's plan gated on the lab's shared resources: the one wrapper every campaign uses.

The core's conductor (campaign time, ``conductor.Gate``) and the Prefect flow (global
concurrency limits, ``flows/campaign.py``) each run a campaign's runs with their plans wrapped
in a ``GatedPlan``; they differ only in how a run waits, their ``ResourceGate``. The wrapper
does the rest, once: which shared resources each step uses (the table in ``resources.py``),
the flow cell leased from the sample drawn into it to its flush, and a resumed run's journaled
steps passed straight through (the engine replays them without touching the lab) before the run
takes back what it held (``Reentry``). The gated plan yields exactly the plan's steps, each
only later, so a run's journal is the same gated or not and the run resumes alone as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mscrobot.campaign.resources import POSITION, SHARED, SPEED, Use, uses
from mscrobot.procedure.plan import Plan, PlanGenerator
from mscrobot.procedure.steps import Outcome, Step


@dataclass(frozen=True)
class Reentry:
    """What a resumed run held when its process stopped, read from its journaled steps.

    ``replay``: its steps already done (replayed, not scheduled); ``on_vial``: one of them used
    its vial, so it holds a stir position, ``position`` if known; ``leases``: the flow cell it
    had filled and not flushed; ``rpm``: the speed it was stirring at (None: not stirring)."""

    replay: int
    on_vial: bool = False
    position: int | None = None
    leases: frozenset[str] = frozenset()
    rpm: float | None = None
    in_sequence: bool = False

    @classmethod
    def after(cls, steps: Iterable[tuple[str, Mapping[str, Any]]],
              position: int | None = None) -> Reentry:
        """From the (kind, params) of the steps done, in order (pure)."""
        n, on_vial, leases, rpm, in_sequence = 0, False, frozenset[str](), None, False
        for kind, params in steps:
            n += 1
            use = uses(kind, params)
            on_vial = on_vial or POSITION in use.during | use.opens
            leases = (leases | (use.opens & SHARED)) - use.closes
            if SPEED in use.opens:
                rpm = float(params["rpm"])
            elif SPEED in use.closes:
                rpm = None
            in_sequence = bool(use.shared)
        return cls(n, on_vial, position if on_vial else None, leases, rpm, in_sequence)


class ResourceGate:
    """How one run waits for the shared resources its steps use: a scheduler's gate subclasses
    it, with its own ``before`` and ``after``. Called from the run's own thread, in step order;
    each step of ``GatedPlan``'s stream runs between ``before`` and ``after``."""

    def start(self) -> None:
        """The run's plan starts (a resumed run's: replaying its journal)."""

    def reenter(self, back: Reentry) -> None:
        """Before a resumed run's first new step: take back what it held when it stopped (at
        least ``back.leases``, which the run holds from here on)."""

    def before(self, n: int, step: Step[Any], use: Use, needs: frozenset[str],
               leases: frozenset[str]) -> None:
        """Before step ``n`` runs: return once ``needs`` (the shared resources it uses that the
        run does not lease already: ``leases``) are the run's."""
        raise NotImplementedError

    def after(self, n: int, step: Step[Any], use: Use, release: frozenset[str],
              outcome: Outcome[Any]) -> None:
        """Step ``n`` ended with ``outcome``: give back ``release``."""
        raise NotImplementedError

    def close(self) -> None:
        """The plan ended or was abandoned (the run stopped, paused or failed): whatever is
        still held is not needed any more."""


class GatedPlan:
    """``plan`` with each step let through by ``gate`` (``reentry``: the run is resumed)."""

    def __init__(self, plan: Plan, gate: ResourceGate, reentry: Reentry | None = None) -> None:
        self.plan, self.gate, self.reentry = plan, gate, reentry

    def steps(self) -> PlanGenerator:
        return _gated(self.plan.steps(), self.gate, self.reentry)


def _gated(inner: PlanGenerator, gate: ResourceGate, reentry: Reentry | None) -> PlanGenerator:
    replay = reentry.replay if reentry is not None else 0
    leases = frozenset[str]()
    n = 0
    gate.start()
    try:
        planned = next(inner)
        while True:
            n += 1
            if n <= replay:
                outcome = yield planned
            else:
                if reentry is not None and n == replay + 1:
                    gate.reenter(reentry)
                    leases = reentry.leases
                step = planned.step
                use = uses(step.kind, step.params())
                needs = use.shared - leases
                gate.before(n, step, use, needs, leases)
                leases |= use.opens & SHARED
                outcome = yield planned
                release = (needs - use.opens) | (use.closes & leases)
                leases -= use.closes
                gate.after(n, step, use, release, outcome)
            planned = inner.send(outcome)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        inner.close()
        gate.close()
