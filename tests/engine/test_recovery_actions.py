"""Recovery actions on the engine (issue 20): each is journaled like any step, a run killed in
the middle of one resumes to the unbroken end, and the lab refuses what it cannot do.

The faults come from the twin (``TwinParams``): a dragged alkane film (the plan draws deeper),
a bubble that lodges in the cell (it rinses the cell before each draw), a slow emulsion (it
settles longer), a dim cell at a short integration (it takes the reference again at a longer
one). Runs are on the twin lab with the journal and the world's event log on disk; a crash is
``SimulatedCrash`` at a crash point inside the action's step, and the resume is a fresh engine,
plan and lab over the same folder, as ``mscrobot run --resume`` builds them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mscrobot.app.dryrun import simulate
from mscrobot.app.labs import assemble_lab
from mscrobot.engine.events import Event, EventKind
from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.engine.runner import Engine, RunEnd
from mscrobot.engine.states import RunState
from mscrobot.lab.config import lab_from_text, load_lab
from mscrobot.procedure.plan import ExchangePlan, PlannedStep, PlanResult
from mscrobot.procedure.steps import Dispense, Outcome, Reference, Sample, Settle, Step
from mscrobot.recipe import Recipe, load_recipe_text
from mscrobot.storage.crashpoints import SimulatedCrash, armed
from mscrobot.twin.optics import Instrument
from mscrobot.twin.params import TwinParams
from tests.engine.runs import TWIN, lab_text


def _recipe(
    cluster_um: float = 20.0, salt_ml: float = 1.5, extra: str = "", cluster_ml: float = 1.5
) -> Recipe:
    return load_recipe_text(
        f"""
name: recovery
cluster: {{material: CdS, concentration: {cluster_um} uM, volume: {cluster_ml} mL}}
salt: {{compound: ZnCl2, concentration: 0.05 M, volume: {salt_ml} mL}}
on_stall: [stop]
back_exchange: {{enabled: false}}
{extra}
""",
        "recovery.yaml",
    ).recipe


@dataclass(frozen=True)
class Case:
    params: TwinParams
    instrument: Instrument | None
    seed: int
    #: is this executed step the action's?
    is_action: Callable[[Step[Any]], bool]
    cluster_um: float = 20.0


def _deeper(step: Step[Any]) -> bool:
    return isinstance(step, Sample) and step.depth_mm > 0


def _rinse(step: Step[Any]) -> bool:
    return isinstance(step, Sample) and step.vessel != "reaction"


def _longer_settle(step: Step[Any]) -> bool:
    return isinstance(step, Settle) and step.seconds > 60.0


def _longer_reference(step: Step[Any]) -> bool:
    return isinstance(step, Reference) and step.integration_ms is not None


CASES = {
    "resample deeper": Case(TwinParams(drag_fraction=0.06), None, 1, _deeper),
    "rinse before each draw": Case(TwinParams(air_probability=0.25), None, 0, _rinse),
    "settle longer": Case(
        TwinParams(settle_tau_s=160.0, emulsion_fraction=0.05), None, 0, _longer_settle
    ),
    "longer integration": Case(
        TwinParams(),
        Instrument(integration_ms=2.5, scans_averaged=1, read_noise_counts=20.0),
        0,
        _longer_reference,
        cluster_um=10.0,
    ),
}


def _executed(case: Case) -> tuple[list[Step[Any]], str]:
    events: list[Event] = []
    run = simulate(
        _recipe(case.cluster_um), case.params, case.seed, case.instrument, on_event=events.append
    )
    return [e.step for e in events if e.kind == EventKind.STEP and e.step is not None], run.end


@pytest.mark.parametrize("name", ["resample deeper", "longer integration"])
def test_a_recovery_action_is_a_journaled_step_and_the_run_confirms(name: str) -> None:
    case = CASES[name]
    steps, end = _executed(case)
    assert end == "finished"
    assert any(case.is_action(s) for s in steps), name


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rinse before each draw", "settle longer"])
def test_the_slower_recovery_actions_are_journaled_steps_and_the_run_confirms(name: str) -> None:
    case = CASES[name]
    steps, end = _executed(case)
    assert end == "finished"
    assert any(case.is_action(s) for s in steps), name
    if name == "rinse before each draw":  # each rinse: the blank into the cell, then out
        rinses = [i for i, s in enumerate(steps) if _rinse(s) and i > 8]
        assert rinses and all(steps[i + 1].kind == "discard" for i in rinses)


def test_recovery_turned_off_takes_no_action_and_asks_the_operator() -> None:
    off = _recipe(
        extra="monitoring: {recovery: {resample: 0, flushes: 0, settle_max: 0 s, scans_max: 0}}"
    )
    events: list[Event] = []
    run = simulate(off, TwinParams(drag_fraction=0.06), 1, on_event=events.append)
    steps = [e.step for e in events if e.kind == EventKind.STEP and e.step is not None]
    assert run.recovery == [] and not any(_deeper(s) or _rinse(s) for s in steps[8:])
    assert run.end == "stopped"


def test_a_persistent_drag_asks_the_operator_saying_what_was_tried() -> None:
    events: list[Event] = []
    run = simulate(
        _recipe(), TwinParams(drag_fraction=0.08, drag_persistent=1.0), 0, on_event=events.append
    )
    assert run.end == "stopped" and run.forward[-1].verdict.state == "ambiguous"
    asked = [e.step for e in events if e.step is not None and e.step.kind == "ask_operator"]
    question = asked[-1].params()["question"] if asked else run.reason
    assert "tried: drew the polar phase 1 mm further from the interface" in question
    assert "rinsed the flow cell" in question and "settled" in question


# --- the lab refuses what it cannot do; the plan does not ask it to -----------------------------


class _Steps:
    """A plan of given steps (the engine needs only ``steps()``)."""

    def __init__(self, steps: list[Step[Any]]) -> None:
        self.plan = steps

    def steps(self) -> Generator[PlannedStep, Outcome[Any], PlanResult]:
        for step in self.plan:
            yield PlannedStep(step)
        return PlanResult("finished")


def _engine_run(
    folder: Path,
    recipe: Recipe,
    plan: Any,
    text: str | None = None,
    params: TwinParams | None = None,
    instrument: Instrument | None = None,
    seed: int = 0,
) -> RunEnd:
    config = lab_from_text(text) if text is not None else load_lab(TWIN)[0]
    built = assemble_lab(config, recipe, seed, folder, params, instrument)
    journal = Journal(folder / JOURNAL_NAME)
    try:
        return Engine(journal, built.lab, plan, "recovery").run()
    finally:
        journal.close()
        built.lab.close()


def _salt_stock_holding(volume: str) -> str:
    old = "well: A1, labware: 20 mL vial rack, capacity: 20 mL, volume: 15 mL}"
    return lab_text(**{old: old.replace("15 mL", volume)})


def test_a_draw_deeper_than_the_layer_allows_is_refused_and_the_run_stops_safely(
    tmp_path: Path,
) -> None:
    recipe = _recipe()
    plan = _Steps(
        [
            Dispense("salt_stock", "reaction", 1500.0, "salt", "polar"),
            Dispense("cluster_stock", "reaction", 1500.0, "clusters", "nonpolar"),
            Sample("polar", 20.0, depth_mm=4.0),
        ]
    )
    end = _engine_run(tmp_path, recipe, plan)
    assert end.state == RunState.FAILED
    assert "no room to draw 20 µL 4 mm further from the interface" in end.reason
    journal = Journal(tmp_path / JOURNAL_NAME)
    try:
        assert [s.status for s in journal.steps()][:2] == ["done", "done"]
    finally:
        journal.close()
    events = [json.loads(line) for line in (tmp_path / "world.jsonl").read_text().splitlines()]
    assert not [e for e in events if e["op"] == "sample"]  # nothing drawn


def test_a_rinse_from_a_stock_that_cannot_give_it_is_refused(tmp_path: Path) -> None:
    text = _salt_stock_holding("1510 uL")
    plan = _Steps(
        [
            Dispense("salt_stock", "reaction", 1500.0, "salt", "polar"),
            Sample("polar", 20.0, "salt_stock"),
        ]
    )
    end = _engine_run(tmp_path, _recipe(), plan, text)
    assert end.state == RunState.FAILED and "salt_stock holds 10 µL; 20 µL needed" in end.reason


def test_the_plan_asks_for_no_draw_below_a_thin_layer_nor_a_rinse_a_stock_cannot_give() -> None:
    """A 2 mL polar layer in a 20 mL vial (4 mm, under 3 mL of alkane) leaves no millimetre
    below the usual height, and a salt stock left with 20 µL gives one rinse: the plan
    settles and asks instead, and nothing fails."""
    text = _salt_stock_holding("2040 uL")
    events: list[Event] = []
    run = simulate(
        _recipe(salt_ml=2.0, extra="vessel: vial-20mL", cluster_ml=3.0),
        TwinParams(drag_fraction=0.08, drag_persistent=1.0),
        0,
        lab=lab_from_text(text),
        on_event=events.append,
    )
    steps = [e.step for e in events if e.kind == EventKind.STEP and e.step is not None]
    assert run.end != "failed", run.reason
    assert not any(_deeper(s) for s in steps)
    assert sum(_rinse(s) and s.phase == "polar" for s in steps) <= 2  # the reference + one


# --- killed in the middle of an action, resumed ---------------------------------------------


def _end_state(folder: Path, recipe: Recipe, case: Case) -> dict[str, Any]:
    journal = Journal(folder / JOURNAL_NAME)
    try:
        steps = [(s.kind, json.dumps(s.params, sort_keys=True), s.status) for s in journal.steps()]
        verdicts = [(v["state"], v["action"]) for v in journal.verdicts()]
        digest = hashlib.sha256(b"".join(s.counts.tobytes() for s in journal.spectra())).hexdigest()
        state = journal.state()
    finally:
        journal.close()
    built = assemble_lab(load_lab(TWIN)[0], recipe, case.seed, folder, case.params, case.instrument)
    try:
        assert built.world is not None
        truth = built.world.truth()
    finally:
        built.lab.close()
    return {
        "state": state[0] if state else None,
        "steps": steps,
        "verdicts": verdicts,
        "spectra": digest,
        "vessels": truth["vessels"],
        "t": truth["t"],
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_a_run_killed_in_the_middle_of_a_recovery_action_resumes_to_the_unbroken_end(
    name: str, tmp_path: Path
) -> None:
    case = CASES[name]
    recipe = _recipe(case.cluster_um)
    unbroken = tmp_path / "unbroken"
    unbroken.mkdir()
    done: list[int] = [0]
    inside: dict[int, list[int]] = {}  # step number → crash points passed while it ran
    steps: dict[int, Step[Any]] = {}

    def on_point(n: int) -> None:
        inside.setdefault(done[0] + 1, []).append(n)

    def on_event(e: Event) -> None:
        if e.kind == EventKind.STEP and e.step is not None:
            done[0] = e.n
            steps[e.n] = e.step

    config = load_lab(TWIN)[0]
    with armed(on_point=on_point):
        built = assemble_lab(config, recipe, case.seed, unbroken, case.params, case.instrument)
        journal = Journal(unbroken / JOURNAL_NAME)
        try:
            end = Engine(journal, built.lab, ExchangePlan(recipe), "recovery", on_event).run()
        finally:
            journal.close()
            built.lab.close()
    assert end.state == RunState.COMPLETED
    want = _end_state(unbroken, recipe, case)
    first = min(n for n, s in steps.items() if n > 8 and case.is_action(s))
    points = inside[first]
    assert len(points) >= 2, points  # its intent, the device acting, its outcome
    for at in sorted({points[0], points[len(points) // 2], points[-1]}):
        folder = tmp_path / f"at{at}"
        folder.mkdir()
        with pytest.raises(SimulatedCrash), armed(at=at) as crashed:
            _engine_run(
                folder, recipe, ExchangePlan(recipe), None, case.params, case.instrument, case.seed
            )
        assert crashed.after_crash == 0
        resumed = _engine_run(
            folder, recipe, ExchangePlan(recipe), None, case.params, case.instrument, case.seed
        )
        assert resumed.state == RunState.COMPLETED, (name, at, resumed.reason)
        assert _end_state(folder, recipe, case) == want, (name, at)
