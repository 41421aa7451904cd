"""The operator path: a stall policy that stops for the operator, and an interrupted dispense
that the liquid handler cannot account for. Both are answered with ``runs resolve``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mscrobot.engine.journal import Journal
from tests.engine.runs import (
    REFERENCE,
    SUBTHRESHOLD,
    TWIN,
    cli,
    end_state,
    lab_text,
    only_run,
    run_folders,
)

pytestmark = pytest.mark.slow


def _pending(out: Path) -> tuple[str, dict]:
    proc = cli("runs", "show", only_run(out).name, "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    return doc["id"], doc


def test_a_stalled_run_applies_its_policy_stops_and_resumes_after_resolve(
        tmp_path: Path) -> None:
    out = tmp_path / "runs"
    first = cli("run", str(SUBTHRESHOLD), "--lab", TWIN, "--out", str(out), "--json")
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
    wrong = cli("runs", "resolve", run_id, "--step", str(step), "--done", "--out", str(out))
    assert wrong.returncode == 2
    assert "answer --continue, --extend, --add-salt, --abort" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    # resuming without an answer stops again at the same question
    again = cli("run", "--resume", run_id, "--out", str(out), "--json")
    assert again.returncode == 1 and json.loads(again.stdout)["pending"]["step"] == step

    ok = cli("runs", "resolve", run_id, "--step", str(step), "--continue", "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    resumed = cli("run", "--resume", run_id, "--out", str(out), "--json")
    doc = json.loads(resumed.stdout)
    assert doc["replayed_steps"] == step - 1
    assert doc["state"] == "awaiting_operator" and doc["pending"]["step"] > step
    step2 = doc["pending"]["step"]
    cli("runs", "resolve", run_id, "--step", str(step2), "--abort", "--out", str(out))
    final = cli("run", "--resume", run_id, "--out", str(out), "--json")
    doc = json.loads(final.stdout)
    assert final.returncode == 1  # the run ended, but the exchange did not complete
    assert doc["state"] == "completed" and doc["reason"] == "operator_aborted"
    assert doc["forward"]["state"] == "stalled"
    journal = Journal(only_run(out) / "journal.sqlite")
    assert [a["answer"] for a in journal.answers()] == ["continue", "abort"]
    journal.close()


def _kill_at(tmp_path: Path, lab_file: Path, point: int) -> tuple[Path | None, int, int]:
    """Kill a run at crash point ``point``. Returns the run, how far its first dispense got
    (0: not started, 1: intent only, 2: intent and acted, 3: done) and its step number."""
    out = tmp_path / f"k{point}"
    killed = cli("run", str(REFERENCE), "--lab", str(lab_file), "--out", str(out), "--json",
                 env={"MSCROBOT_CRASH_AT": str(point)})
    assert killed.returncode == -9
    runs = run_folders(out)
    if not runs:
        return None, 0, 0
    journal = Journal(runs[0] / "journal.sqlite")
    first = next((s for s in journal.steps() if s.kind == "dispense"), None)
    journal.close()
    if first is None:
        return runs[0], 0, 0
    world = runs[0] / "world.jsonl"
    acted = world.exists() and '"op": "dispense"' in world.read_text()
    return runs[0], (3 if first.status == "done" else 1 + acted), first.n


def _kill_in_first_dispense(tmp_path: Path, lab_file: Path, happened: bool) -> tuple[Path, int]:
    """Kill at the crash point just before (or just after) the first dispense acts: the
    journal then has the dispense's intent and no outcome either way. The blanks' references
    come first, so the point is found by bisection."""
    lo, hi = 1, 400  # the first point at which the dispense has at least its intent
    while lo < hi:
        mid = (lo + hi) // 2
        if _kill_at(tmp_path, lab_file, mid)[1] >= 1:
            hi = mid
        else:
            lo = mid + 1
    want = 2 if happened else 1
    for point in range(lo, lo + 6):
        run, reached, n = _kill_at(tmp_path, lab_file, point)
        if reached == want and run is not None:
            return run, n
    raise AssertionError("no crash point inside the first dispense")


@pytest.mark.parametrize("happened", [False, True])
def test_an_interrupted_dispense_the_robot_cannot_account_for_waits_for_the_operator(
        tmp_path: Path, happened: bool) -> None:
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(lab_text(**{"reports_outcomes: true": "reports_outcomes: false"}))
    ref_out = tmp_path / "ref"
    assert cli("run", str(REFERENCE), "--lab", str(lab_file), "--out", str(ref_out),
               "--json").returncode == 0
    reference = end_state(only_run(ref_out))

    run, n = _kill_in_first_dispense(tmp_path, lab_file, happened)
    out = run.parent
    resumed = cli("run", "--resume", run.name, "--out", str(out), "--json")
    doc = json.loads(resumed.stdout)
    assert resumed.returncode == 1 and doc["state"] == "awaiting_operator"
    assert doc["pending"]["step"] == n and "cannot say whether it happened" in \
        doc["pending"]["question"]
    answer = "--done" if happened else "--not-done"
    assert cli("runs", "resolve", run.name, "--step", str(n), answer,
               "--out", str(out)).returncode == 0
    final = cli("run", "--resume", run.name, "--out", str(out), "--json")
    assert final.returncode == 0, final.stderr
    got = end_state(run)
    for key in ("verdicts", "spectra_digest", "volumes", "lab_t", "transfer"):
        assert got[key] == reference[key], key
    assert len(got["dispense_ops"]) == len(reference["dispense_ops"])  # dosed exactly once
