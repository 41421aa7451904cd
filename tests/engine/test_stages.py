"""Stopping a run at the end of a stage (the Prefect flow's task per stage) and resuming it: the
run executed stage by stage is the run executed at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mscrobot.app.runs import RunError, RunInfo, create_run, execute
from mscrobot.engine.journal import Journal
from mscrobot.engine.states import RunState
from mscrobot.lab.config import load_lab
from mscrobot.procedure.plan import STAGES, recipe_stages
from mscrobot.recipe.loader import load_recipe_text
from tests.engine.runs import REFERENCE, end_state


def _create(tmp: Path, seed: int = 3, text: str | None = None) -> RunInfo:
    text = REFERENCE.read_text() if text is None else text
    recipe = load_recipe_text(text, str(REFERENCE)).recipe
    lab, lab_text = load_lab("twin")
    return create_run(recipe, text, str(REFERENCE), lab, lab_text, seed, tmp)


def _steps(info: RunInfo) -> list[tuple[str, dict]]:
    journal = Journal(info.path / "journal.sqlite")
    try:
        return [(s.kind, s.params) for s in journal.steps()]
    finally:
        journal.close()


def test_a_run_paused_at_each_stage_end_resumes_to_the_unbroken_run(tmp_path: Path) -> None:
    whole = _create(tmp_path / "whole")
    assert execute(whole).state == RunState.COMPLETED
    info = _create(tmp_path / "staged")

    setup = execute(info, until_stage="setup")
    assert setup.state == RunState.PAUSED and setup.stage == "forward"
    assert setup.reason == "paused at the end of stage 'setup'"
    steps = _steps(info)
    # the blanks' references, then salt and clusters: nothing of the exchange yet
    assert [k for k, _ in steps][-2:] == ["dispense", "dispense"]
    assert "decide" not in [k for k, _ in steps] and setup.steps == len(steps)

    forward = execute(info, until_stage="forward")
    assert forward.state == RunState.PAUSED and forward.stage == "back"
    assert forward.replayed == len(steps)
    steps = _steps(info)
    last = steps[-1]
    assert last[0] == "decide" and last[1]["stage"] == "forward"
    assert (last[1]["state"], last[1]["action"]) == ("complete", "start_back_exchange")
    assert not any(p.get("source") == "ola_stock" for _, p in steps)  # no OLA yet

    rest = execute(info)
    assert rest.state == RunState.COMPLETED and rest.replayed == len(steps)
    got, want = end_state(info.path), end_state(whole.path)
    for key in ("verdicts", "spectra_digest", "steps", "volumes", "lab_t", "transfer"):
        assert got[key] == want[key], key
    journal = Journal(info.path / "journal.sqlite")
    try:
        states = [(s["state"], s["reason"]) for s in journal.states()]
    finally:
        journal.close()
    assert [s for s, _ in states] == ["created", "running", "paused", "running", "paused",
                                      "running", "completed"]
    assert states[2][1] == "paused at the end of stage 'setup'"
    assert states[4][1] == "paused at the end of stage 'forward'"
    events = [json.loads(x) for x in (info.path / "world.jsonl").read_text().splitlines()]
    stirs = [e for e in events if e["op"] == "stir"]
    assert stirs and stirs[-1]["rpm"] == 0.0


def test_a_stage_already_over_pauses_at_once_and_touches_nothing(tmp_path: Path) -> None:
    info = _create(tmp_path)
    first = execute(info, until_stage="forward")
    assert first.state == RunState.PAUSED
    world = (info.path / "world.jsonl").read_text().splitlines()
    again = execute(info, until_stage="setup")  # a retried task of an earlier stage
    assert again.state == RunState.PAUSED and again.replayed == first.steps
    assert again.reason == "paused at the end of stage 'setup'"
    after = (info.path / "world.jsonl").read_text().splitlines()
    # only the safe stop's "stirrer off" again, at the same lab time: no liquid moved
    assert after[:len(world)] == world
    assert [json.loads(x) for x in after[len(world):]] == [
        {"op": "stir", "rpm": 0.0, "t": json.loads(world[-1])["t"]}]


def test_an_unknown_stage_is_refused_before_anything_runs(tmp_path: Path) -> None:
    info = _create(tmp_path)
    with pytest.raises(RunError, match=r"no stage 'exchange'.*setup, forward, back"):
        execute(info, until_stage="exchange")
    journal = Journal(info.path / "journal.sqlite")
    try:
        assert journal.state() == ("created", "") and journal.steps() == []
    finally:
        journal.close()


def test_without_back_exchange_the_forward_stage_ends_the_run(tmp_path: Path) -> None:
    text = REFERENCE.read_text().replace("  enabled: true ", "  enabled: false ")
    info = _create(tmp_path, text=text)
    assert not info.recipe.back_exchange.enabled
    assert recipe_stages(info.recipe) == ("setup", "forward")
    assert recipe_stages(_create(tmp_path / "b").recipe) == STAGES
    execute(info, until_stage="setup")
    end = execute(info, until_stage="forward")
    assert end.state == RunState.COMPLETED and end.result is not None
    assert end.result.end == "finished" and end.result.back == []
