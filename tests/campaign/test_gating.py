"""The one wrapper both campaign schedulers gate a run's plan with: what it asks its gate for.

A recording gate stands for the conductor's and the Prefect flow's: the wrapper alone decides
which resources each step needs and gives back, when the flow cell is leased, and that a
resumed run's journaled steps pass through before it takes back what it held.
"""

from __future__ import annotations

from typing import Any

from mscrobot.campaign.gating import GatedPlan, Reentry, ResourceGate
from mscrobot.campaign.resources import ROBOT, SPECTROMETER, Use
from mscrobot.procedure.plan import PlanGenerator, PlannedStep, PlanResult
from mscrobot.procedure.results import Done
from mscrobot.procedure.steps import Discard, Measure, Outcome, Sample, Step, Stir, Wait

STEPS: list[Step[Any]] = [Sample("polar", 20.0), Measure("polar", "polar_salt", 10.0),
                          Discard(), Stir(1000.0), Wait(60.0)]


class Recorder(ResourceGate):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def start(self) -> None:
        self.calls.append(("start",))

    def reenter(self, back: Reentry) -> None:
        self.calls.append(("reenter", back.leases))

    def before(self, n: int, step: Step[Any], use: Use, needs: frozenset[str],
               leases: frozenset[str]) -> None:
        self.calls.append(("before", n, step.kind, needs, leases))

    def after(self, n: int, step: Step[Any], use: Use, release: frozenset[str],
              outcome: Outcome[Any]) -> None:
        self.calls.append(("after", n, step.kind, release, outcome.t))

    def close(self) -> None:
        self.calls.append(("close",))


class Steps:
    def steps(self) -> PlanGenerator:
        for k, step in enumerate(STEPS):
            yield PlannedStep(step, "forward" if k >= 3 else "setup")
        return PlanResult("finished")


def _drive(gate: Recorder, reentry: Reentry | None = None,
           stop_after: int | None = None) -> tuple[list[PlannedStep], PlanResult | None]:
    """Execute the gated stream as the engine would: step k ends at t = 10 k."""
    stream = GatedPlan(Steps(), gate, reentry).steps()
    seen = []
    try:
        planned = next(stream)
        while True:
            seen.append(planned)
            if len(seen) == stop_after:
                stream.close()
                return seen, None
            planned = stream.send(Outcome(10.0 * len(seen), Done()))
    except StopIteration as stop:
        return seen, stop.value


CELL = frozenset({SPECTROMETER})
ARM = frozenset({ROBOT})
NONE: frozenset[str] = frozenset()


def test_the_flow_cell_is_leased_from_the_sample_to_the_flush() -> None:
    gate = Recorder()
    seen, result = _drive(gate)
    assert [p.step for p in seen] == STEPS and [p.stage for p in seen] == ["setup"] * 3 + [
        "forward"] * 2
    assert result == PlanResult("finished")
    assert gate.calls == [
        ("start",),
        ("before", 1, "sample", ARM | CELL, NONE), ("after", 1, "sample", ARM, 10.0),
        ("before", 2, "measure", NONE, CELL), ("after", 2, "measure", NONE, 20.0),
        ("before", 3, "discard", ARM, CELL), ("after", 3, "discard", ARM | CELL, 30.0),
        ("before", 4, "stir", NONE, NONE), ("after", 4, "stir", NONE, 40.0),
        ("before", 5, "wait", NONE, NONE), ("after", 5, "wait", NONE, 50.0),
        ("close",)]


def test_a_resumed_run_replays_without_the_gate_then_takes_back_its_cell() -> None:
    gate = Recorder()
    back = Reentry.after([(s.kind, s.params()) for s in STEPS[:2]])
    assert back.replay == 2 and back.leases == CELL
    seen, _ = _drive(gate, back)
    assert [p.step for p in seen] == STEPS  # the engine replays the first two from its journal
    assert gate.calls[:4] == [
        ("start",), ("reenter", CELL),
        ("before", 3, "discard", ARM, CELL), ("after", 3, "discard", ARM | CELL, 30.0)]


def test_a_stream_abandoned_mid_step_closes_its_gate() -> None:
    """The engine closes the stream when it pauses or stops: the gate gives back what it
    holds then (the Prefect gate's limits), not whenever the generator is collected."""
    gate = Recorder()
    _drive(gate, stop_after=1)
    assert gate.calls == [("start",), ("before", 1, "sample", ARM | CELL, NONE), ("close",)]
