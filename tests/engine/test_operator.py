"""The operator path: a stall policy that stops for the operator, and an interrupted dispense
that the liquid handler cannot account for. Both are answered with ``runs resolve``.

The commands run in process (CliRunner); the interrupted dispense is a run crashed in process
(``SimulatedCrash``) just before or just after the first dose reaches the vial. Real processes
answering the operator: tests/campaign/test_cli_campaign.py and tests/engine/test_cli_runs.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mscrobot.engine.journal import Journal
from mscrobot.storage.crashpoints import SimulatedCrash, armed
from tests.engine.crashes import Trace, point_after
from tests.engine.runs import (
    SUBTHRESHOLD,
    TWIN,
    dry_run,
    end_state,
    invoke,
    lab_text,
    only_run,
)


def test_a_stalled_run_applies_its_policy_stops_and_resumes_after_resolve(
        tmp_path: Path) -> None:
    out = tmp_path / "runs"
    first = invoke("run", str(SUBTHRESHOLD), "--lab", TWIN, "--out", str(out), "--json")
    assert first.returncode == 1, first.stderr  # stopped for the operator
    doc = json.loads(first.stdout)
    assert doc["state"] == "awaiting_operator"
    step = doc["pending"]["step"]
    run_id = doc["id"]
    journal = Journal(only_run(out) / "journal.sqlite")
    trail = [(v["state"], v["action"]) for v in journal.verdicts()]
    dispensed = [s.params for s in journal.steps() if s.kind == "dispense"]
    journal.close()
    # the recipe's ladder, in order: extend, then add salt, then stop for the operator
    actions = [a for s, a in trail if s == "stalled"]
    assert actions == ["extend", "add_salt", "stop_for_operator"]
    assert [d["source"] for d in dispensed] == ["salt_stock", "cluster_stock", "salt_stock"]
    assert dispensed[-1]["volume_ul"] == 50.0

    # a wrong kind of answer is refused, and nothing is recorded
    wrong = invoke("runs", "resolve", run_id, "--step", str(step), "--done", "--out", str(out))
    assert wrong.returncode == 2
    assert "answer --continue, --extend, --add-salt, --abort" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    # resuming without an answer stops again at the same question
    again = invoke("run", "--resume", run_id, "--out", str(out), "--json")
    assert again.returncode == 1 and json.loads(again.stdout)["pending"]["step"] == step

    ok = invoke("runs", "resolve", run_id, "--step", str(step), "--continue", "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    resumed = invoke("run", "--resume", run_id, "--out", str(out), "--json")
    doc = json.loads(resumed.stdout)
    assert doc["replayed_steps"] == step - 1
    assert doc["state"] == "awaiting_operator" and doc["pending"]["step"] > step
    step2 = doc["pending"]["step"]
    invoke("runs", "resolve", run_id, "--step", str(step2), "--abort", "--out", str(out))
    final = invoke("run", "--resume", run_id, "--out", str(out), "--json")
    doc = json.loads(final.stdout)
    assert final.returncode == 1  # the run ended, but the exchange did not complete
    assert doc["state"] == "completed" and doc["reason"] == "operator_aborted"
    assert doc["forward"]["state"] == "stalled"
    journal = Journal(only_run(out) / "journal.sqlite")
    assert [a["answer"] for a in journal.answers()] == ["continue", "abort"]
    journal.close()


#: the twin lab with a liquid handler that cannot say whether an operation happened
UNACCOUNTED = {"reports_outcomes: true": "reports_outcomes: false"}


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], int]:
    """The unbroken run's end, and its crash point just after the first dose reached the vial."""
    runs = tmp_path_factory.mktemp("unbroken") / "runs"
    trace = Trace(runs)
    with armed(on_point=trace):
        info, _ = dry_run(runs, lab=lab_text(**UNACCOUNTED))
    given = point_after(trace.points, "world.jsonl", lambda e: e["op"] == "dispense")
    return end_state(info.path), given


@pytest.mark.parametrize("happened", [False, True])
def test_an_interrupted_dispense_the_robot_cannot_account_for_waits_for_the_operator(
        tmp_path: Path, unbroken: tuple[dict[str, Any], int], happened: bool) -> None:
    lab = lab_text(**UNACCOUNTED)
    reference, given = unbroken
    at = given if happened else given - 1  # just after the dose, or the point just before

    out = tmp_path / "runs"
    with pytest.raises(SimulatedCrash), armed(at=at) as points:
        dry_run(out, lab=lab)
    assert points.after_crash == 0
    run = only_run(out)
    journal = Journal(run / "journal.sqlite")
    open_steps = [s for s in journal.steps() if s.status == "intent"]
    journal.close()
    assert [s.kind for s in open_steps] == ["dispense"]  # its intent, and no outcome either way
    n = open_steps[0].n
    world = (run / "world.jsonl").read_text()
    assert (f'"id": "{run.name}/{n}"' in world) == happened  # the dose reached the vial, or not

    resumed = invoke("run", "--resume", run.name, "--out", str(out), "--json")
    doc = json.loads(resumed.stdout)
    assert resumed.returncode == 1 and doc["state"] == "awaiting_operator"
    assert doc["pending"]["step"] == n and "cannot say whether it happened" in \
        doc["pending"]["question"]
    answer = "--done" if happened else "--not-done"
    assert invoke("runs", "resolve", run.name, "--step", str(n), answer,
                  "--out", str(out)).returncode == 0
    final = invoke("run", "--resume", run.name, "--out", str(out), "--json")
    assert final.returncode == 0, final.stderr
    got = end_state(run)
    for key in ("verdicts", "spectra_digest", "volumes", "lab_t", "transfer"):
        assert got[key] == reference[key], key
    assert len(got["dispense_ops"]) == len(reference["dispense_ops"])  # dosed exactly once
