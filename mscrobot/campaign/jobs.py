"""One campaign run as a conductor job: its own lab, journal, clock and seed; a gated plan
(``gating.GatedPlan`` with the run's ``conductor.Gate``).

``run_folder_job`` writes a run folder as ``mscrobot run`` does (resumable alone with
``mscrobot run --resume``: the gate only delays steps, it never changes them), or resumes one
(``reentry_of``: what its journal says it held); ``ended_outcome`` reads a run that already
ended from its journal alone; ``memory_job`` keeps everything in memory (tests, benchmarks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mscrobot.app.labs import build_lab
from mscrobot.app.runs import RunInfo, execute
from mscrobot.campaign.conductor import Gate, Job
from mscrobot.campaign.gating import Reentry
from mscrobot.engine.journal import JOURNAL_NAME, Journal, pending_question
from mscrobot.engine.runner import Engine, Event, RunEnd
from mscrobot.engine.states import RunState
from mscrobot.lab.config import LabConfig
from mscrobot.lab.protocols import Lab
from mscrobot.procedure.plan import ExchangePlan, Plan
from mscrobot.recipe.models import Recipe


def gated(gate: Gate) -> Callable[[Plan, Lab], Plan]:
    """What ``execute`` wraps a run's plan with: its steps let in by ``gate``, on the run's
    lab clock."""
    return lambda plan, lab: gate.gate_plan(plan, lab.clock)


@dataclass
class RunOutcome:
    """What a campaign keeps of one run (its journal has everything)."""

    state: str
    reason: str
    lab_t: float
    steps: int
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    mixed_t: float | None = None  # run time the two phases met (end of the cluster dispense)
    pending: dict[str, Any] | None = None
    run_id: str = ""

    @property
    def forward(self) -> str | None:
        states = [v["state"] for v in self.verdicts if v["stage"] == "forward"]
        return states[-1] if states else None

    @property
    def back(self) -> str | None:
        states = [v["state"] for v in self.verdicts if v["stage"] == "back"]
        return states[-1] if states else None

    @property
    def transfer_s(self) -> float | None:
        """Phases meeting → the forward exchange confirmed complete (None: never confirmed)."""
        forward = [v for v in self.verdicts if v["stage"] == "forward"]
        if not forward or forward[-1]["state"] != "complete" or self.mixed_t is None:
            return None
        return float(forward[-1]["lab_t"]) - self.mixed_t


def _outcome(end: RunEnd, journal: Journal, run_id: str) -> RunOutcome:
    mixed = next((s.ended_t for s in journal.steps() if s.kind == "dispense"
                  and s.params.get("source") == "cluster_stock"), None)
    return RunOutcome(str(end.state), end.reason, end.lab_t, end.steps, journal.verdicts(),
                      mixed, end.pending, run_id)


#: Where a run's own story ends: a campaign resume reads these runs, it does not run them.
ENDED = frozenset({RunState.COMPLETED, RunState.AWAITING_OPERATOR, RunState.FAILED})


def ended_outcome(path: Path) -> RunOutcome | None:
    """The outcome of the run in ``path`` if its journal says it ended (None: unfinished, or
    awaiting the operator with the answer already given, so a campaign resume takes it up)."""
    journal = Journal(path / JOURNAL_NAME)
    try:
        states = journal.states()
        if not states or states[-1]["state"] not in ENDED:
            return None
        last = states[-1]
        steps = journal.steps()
        pending = pending_question(last["state"], last["reason"], steps)
        if pending is not None and pending["step"] is not None \
                and journal.operator_answer(pending["step"]) is not None:
            return None  # answered since (`runs resolve`): it goes on under the scheduler
        n = sum(1 for s in steps if s.status == "done")
        end = RunEnd(RunState(last["state"]), last["reason"], float(last["lab_t"] or 0.0), n,
                     pending=pending)
        return _outcome(end, journal, journal.meta()["id"])
    finally:
        journal.close()


def reentry_of(path: Path, position: int | None) -> Reentry | None:
    """What an unfinished run held, from its journal (None: it never did a step)."""
    journal = Journal(path / JOURNAL_NAME)
    try:
        done = []
        for rec in journal.steps():
            if rec.status != "done":
                break
            done.append((rec.kind, rec.params))
        started = bool(done) or (journal.state() or ("created",))[0] != RunState.CREATED
    finally:
        journal.close()
    return Reentry.after(done, position) if started else None


def run_folder_job(info: RunInfo, on_event: Callable[[int, Event], None] | None = None,
                   stop: threading.Event | None = None, index: int = 0,
                   reentry: Reentry | None = None) -> Job:
    def go(gate: Gate) -> RunOutcome:
        end = execute(info, None if on_event is None else lambda e: on_event(index, e), stop,
                      gated(gate))
        journal = Journal(info.path / JOURNAL_NAME)
        try:
            return _outcome(end, journal, info.id)
        finally:
            journal.close()

    return Job(go, lambda out: out.lab_t, reentry)


def memory_job(recipe: Recipe, seed: int, lab: LabConfig,
               make_lab: Callable[[], Lab] | None = None,
               plan: Callable[[], Plan] | None = None) -> Job:
    """A run kept in memory; ``make_lab``/``plan`` replace the simulated lab and the recipe's
    plan (tests drive the scheduler with synthetic steps)."""

    def go(gate: Gate) -> RunOutcome:
        devices = make_lab() if make_lab is not None else build_lab(lab, recipe, seed, None)
        journal = Journal(Path(":memory:"))
        try:
            inner = plan() if plan is not None else ExchangePlan(recipe)
            end = Engine(journal, devices, gate.gate_plan(inner, devices.clock), "memory").run()
            journal.flush()
            return _outcome(end, journal, "memory")
        finally:
            journal.close()
            devices.close()

    return Job(go, lambda out: out.lab_t)


def run_alone(recipe: Recipe, seed: int, lab: LabConfig) -> RunOutcome:
    """The same recipe and seed with nothing else in the lab (what a campaign run compares to)."""
    devices = build_lab(lab, recipe, seed, None)
    journal = Journal(Path(":memory:"))
    try:
        end = Engine(journal, devices, ExchangePlan(recipe), "memory").run()
        journal.flush()
        return _outcome(end, journal, "memory")
    finally:
        journal.close()
        devices.close()
