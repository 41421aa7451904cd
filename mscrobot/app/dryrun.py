"""A whole dry run in memory: the engine and the plan on the simulated lab, nothing written.

The decision benchmark, the twin's fidelity tests and ``mscrobot plan`` use this, so what they
measure is exactly what ``mscrobot run`` executes (same plan, same engine, same simulated
devices), only with an in-memory journal and world. Each decision comes with the twin's truth
at that moment, which only a simulation can know.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mscrobot.app.labs import assemble_lab
from mscrobot.decide.observations import Observation, Stage
from mscrobot.decide.verdicts import Verdict
from mscrobot.engine.events import Event, EventKind
from mscrobot.engine.journal import Journal
from mscrobot.engine.runner import Engine
from mscrobot.engine.states import RunState
from mscrobot.lab.config import LabConfig, load_lab
from mscrobot.procedure.plan import ExchangePlan
from mscrobot.recipe.models import Recipe
from mscrobot.twin.optics import Instrument
from mscrobot.twin.params import TwinParams
from mscrobot.twin.vial import Truth


@dataclass
class Decision:
    """One verdict: what the logic saw and decided, and what was really there."""

    observation: Observation
    verdict: Verdict
    truth: Truth


@dataclass
class SimulatedRun:
    forward: list[Decision] = field(default_factory=list)
    back: list[Decision] = field(default_factory=list)
    end: str = "running"  # finished | stopped (awaiting the operator) | step_limit | failed
    time_s: float = 0.0
    #: lab time when the phases met (references and dispensing came before)
    contact_s: float = 0.0
    steps: int = 0
    #: why it ended where it did ('' when it finished), e.g. the step a device refused
    reason: str = ""
    #: the recovery actions the plan took on unreadable samples (``decide/recovery.py``), and
    #: the lab time they cost
    recovery: list[str] = field(default_factory=list)
    recovery_s: float = 0.0


def simulate(recipe: Recipe, params: TwinParams | None = None, seed: int = 0,
             instrument: Instrument | None = None, lab: LabConfig | None = None,
             on_event: Callable[[Event], None] | None = None) -> SimulatedRun:
    """Run ``recipe`` on the simulated lab in memory, until it finishes or needs the operator.

    ``on_event`` sees every engine event as ``mscrobot run``'s display would."""
    built = assemble_lab(lab or _default_lab(), recipe, seed, None, params, instrument)
    devices, world = built.lab, built.world
    if world is None:
        devices.close()
        raise ValueError("simulate() needs a lab that simulates the vial")
    plan = ExchangePlan(recipe)
    out = SimulatedRun()

    def collect(event: Event) -> None:
        if on_event is not None:
            on_event(event)
        if event.kind != EventKind.VERDICT or event.step is None or world.vial is None:
            return
        stage = Stage(event.step.params()["stage"])
        verdicts = plan.result.forward if stage == Stage.FORWARD else plan.result.back
        target = out.forward if stage == Stage.FORWARD else out.back
        target.append(Decision(plan.observations[stage][-1], verdicts[-1], world.vial.truth()))

    journal = Journal(Path(":memory:"))
    try:
        end = Engine(journal, devices, plan, "memory", collect).run()
    finally:
        journal.close()
        devices.close()
    out.time_s, out.steps, out.contact_s = end.lab_t, end.steps, world.t_mix
    out.reason = end.reason
    out.recovery = [str(a.act) for a in plan.recovery.taken]
    out.recovery_s = plan.recovery.cost_s
    if end.state == RunState.COMPLETED:
        out.end = {"finished": "finished", "operator_aborted": "stopped"}.get(
            end.result.end if end.result else "", "step_limit")
    elif end.state == RunState.AWAITING_OPERATOR:
        out.end = "stopped"
    else:
        out.end = "failed"
    return out


@functools.cache
def _default_lab() -> LabConfig:
    return load_lab("twin")[0]
