"""Journals written before the engine's typed results still replay, and the dry run is unchanged.

The fixtures in ``data/`` were written by main at fb6f65a (``mscrobot run recipes/cds34-zncl2.yaml
--lab twin|simulated --seed 3``), before step results were typed, handlers registered by kind and
the stage carried with each step. Their outcomes are the JSON every journal has held since: a
run folder made of one replays to its end without touching the lab, and the commands that read
run folders read it. A fresh dry run with the same seed must give the very same run.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from mscrobot.app.dryrun import simulate
from mscrobot.app.runs import execute, load_run
from mscrobot.cli import app
from mscrobot.engine.events import Event, EventKind
from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.engine.states import RunState
from mscrobot.lab.config import load_lab
from mscrobot.procedure.results import Handled, Result
from mscrobot.procedure.steps import STEP_TYPES
from mscrobot.recipe.loader import load_recipe
from tests.engine.runs import REFERENCE, TWIN

DATA = Path(__file__).resolve().parent / "data"
LABS = ("twin", "simulated")
STEPS = 74  # the fixtures' run: 4 forward and 2 back verdicts


def _fixture(lab: str) -> Path:
    return DATA / f"journal-fb6f65a-{lab}-seed3.sqlite"


def _journaled(path: Path) -> tuple[list[Any], list[dict[str, Any]], list[dict[str, Any]]]:
    journal = Journal(path)
    try:
        return journal.steps(), journal.verdicts(), journal.states()
    finally:
        journal.close()


def _run_folder(lab: str, runs: Path) -> Path:
    """A run folder whose journal is a copy of the fixture, named by the run's id."""
    journal = Journal.frozen(_fixture(lab))  # read only: the fixture stays as written
    try:
        run_id = journal.meta()["id"]
    finally:
        journal.close()
    folder = runs / run_id
    folder.mkdir(parents=True)
    shutil.copyfile(_fixture(lab), folder / JOURNAL_NAME)
    return folder


@pytest.mark.parametrize("lab", LABS)
def test_an_old_completed_journal_replays_with_its_verdicts(tmp_path: Path, lab: str) -> None:
    folder = _run_folder(lab, tmp_path / "runs")
    steps, verdicts, states = _journaled(folder / JOURNAL_NAME)
    assert len(steps) == STEPS and states[-1]["state"] == "completed"
    info = load_run(folder)
    assert info.seed == 3 and info.lab.name == lab
    end = execute(info)
    assert end.state == RunState.COMPLETED and end.reason == "finished"
    assert end.steps == end.replayed == STEPS
    assert end.result is not None
    replayed = [("forward", str(v.state), str(v.action)) for v in end.result.forward] + [
        ("back", str(v.state), str(v.action)) for v in end.result.back]
    assert replayed == [(v["stage"], v["state"], v["action"]) for v in verdicts]
    assert [s for s, _, _ in replayed] == ["forward"] * 4 + ["back"] * 2
    assert replayed[3][1:] == ("complete", "start_back_exchange")
    assert replayed[-1][1:] == ("complete", "finish")
    # replayed, not run: the journal is as it was and the simulated world saw no operation
    assert _journaled(folder / JOURNAL_NAME) == (steps, verdicts, states)
    assert (folder / "world.jsonl").read_text(encoding="utf-8") == ""


@pytest.mark.parametrize("lab", LABS)
def test_every_old_outcome_is_rebuilt_as_a_typed_result_and_written_back_alike(lab: str) -> None:
    journal = Journal.frozen(_fixture(lab))  # read only: the fixture stays as written
    try:
        for rec in journal.steps():
            step_type = STEP_TYPES[rec.kind]
            outcome = journal.recorded_outcome(rec, step_type.result_type)
            assert type(outcome.result) is step_type.result_type, rec.n
            assert outcome.t == rec.ended_t
            assert outcome.result.journal_data() == rec.outcome, rec.n
            assert [s.meta["kind"] for s in outcome.result.spectra()] == {
                "reference": ["dark", "reference"], "measure": ["sample"]}.get(rec.kind, [])
            if lab == "simulated" and isinstance(outcome.result, Handled):
                assert outcome.result.robot_commands, rec.n  # the robot's own record, kept
    finally:
        journal.close()


def _invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("lab", LABS)
def test_the_run_commands_read_an_old_run_folder(tmp_path: Path, lab: str) -> None:
    runs = tmp_path / "runs"
    folder = _run_folder(lab, runs)
    run_id = folder.name
    steps, verdicts, _ = _journaled(folder / JOURNAL_NAME)
    shown = json.loads(_invoke("runs", "show", run_id, "--out", str(runs), "--json").stdout)
    assert shown["id"] == run_id and shown["state"] == "completed"
    assert shown["forward"]["state"] == shown["back"]["state"] == "complete"
    assert shown["spectra"] == sum(s.kind == "measure" for s in steps) == 12
    report = Path(_invoke("runs", "report", run_id, "--out", str(runs)).stdout.strip())
    page = report.read_text(encoding="utf-8")
    assert report == folder / "report.html"
    assert page.count('src="data:image/png;base64,') == 3  # spectra, bands, volumes
    assert all(v["reasons"][0] in page for v in verdicts)
    _invoke("runs", "export", run_id, "--format", "csv", "-o", str(tmp_path / "csv"),
            "--out", str(runs))
    with (tmp_path / "csv" / "steps.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["kind"] for r in rows] == [s.kind for s in steps]
    dispense = next(r for r in rows if r["kind"] == "dispense")
    assert float(dispense["volume_uL@reaction"]) == 1500.0
    with (tmp_path / "csv" / "verdicts.csv").open(encoding="utf-8") as f:
        assert [r["state"] for r in csv.DictReader(f)] == [v["state"] for v in verdicts]
    _invoke("runs", "export", run_id, "--format", "jcamp", "-o", str(tmp_path / "jdx"),
            "--out", str(runs))
    assert len(list((tmp_path / "jdx").glob("*.jdx"))) == shown["spectra"]


def _spectra_bytes(spectra: Any) -> list[tuple[bytes, bytes, float]]:
    return [(np.asarray(s.wavelengths_nm, "<f8").tobytes(), np.asarray(s.counts, "<f8").tobytes(),
             float(s.integration_ms)) for s in spectra]


@pytest.mark.parametrize("lab", LABS)
def test_a_fresh_dry_run_is_the_journaled_run_bit_for_bit(lab: str) -> None:
    """Seed 3 on the twin, in memory: every step, its end time, the vessel volumes after it
    and every spectrum it read are the fixture's (both fixtures recorded the same run; the
    simulated one adds the robot's command ids)."""
    events: list[Event] = []
    run = simulate(load_recipe(REFERENCE).recipe, seed=3, lab=load_lab(TWIN)[0],
                   on_event=events.append)
    assert run.end == "finished"
    executed = [e for e in events if e.kind == EventKind.STEP]
    journal = Journal.frozen(_fixture(lab))  # read only: the fixture stays as written
    try:
        steps, verdicts = journal.steps(), journal.verdicts()
        assert [e.n for e in executed] == [s.n for s in steps]
        for event, rec in zip(executed, steps, strict=True):
            assert event.step is not None and event.outcome is not None
            assert rec.outcome is not None
            assert (event.step.kind, json.loads(json.dumps(event.step.params()))) == \
                (rec.kind, rec.params), rec.n
            assert event.outcome.t == rec.ended_t, rec.n
            result: Result = event.outcome.result
            assert isinstance(result, event.step.result_type)
            if isinstance(result, Handled):
                assert result.vessels == rec.outcome["vessels"], rec.n
            assert _spectra_bytes(result.spectra()) == _spectra_bytes(journal.spectra(rec.n))
            # what the new engine would journal is what the old one did (bar the robot's ids)
            assert result.journal_data() == {k: v for k, v in rec.outcome.items()
                                             if k != "robot_commands"}, rec.n
        assert sum(len(_spectra_bytes(e.outcome.result.spectra())) for e in executed
                   if e.outcome is not None) == len(journal.spectra()) == 18
    finally:
        journal.close()
    decided = [(d.verdict.state, d.verdict.action) for d in run.forward + run.back]
    assert [(str(s), str(a)) for s, a in decided] == [(v["state"], v["action"]) for v in verdicts]
