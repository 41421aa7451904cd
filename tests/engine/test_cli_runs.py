"""The run commands as a user types them: plan, run, Ctrl-C and resume, runs list/show/report/
export/resolve.

Exit codes, output and messages are checked in process (CliRunner); the Ctrl-C test and one
``plan`` are real processes (``main`` ends them with ``os._exit``: what they print must be out
by then), marked slow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.engine.runs import REFERENCE, TWIN, cli, end_state, invoke, only_run


def _check_plan(doc: dict[str, Any]) -> None:
    kinds = [s["kind"] for s in doc["steps"]]
    # identical steps are listed once (the flush: '×N'), so the second blank has no discard
    assert kinds[:7] == ["sample", "reference", "discard", "sample", "reference", "dispense",
                         "dispense"]
    assert "measure" in kinds
    assert {v["name"] for v in doc["vessels"]} >= {"reaction", "salt_stock", "flow_cell"}
    reaction = next(v for v in doc["vessels"] if v["name"] == "reaction")
    assert reaction["worst_case_ul"] == pytest.approx(1500 + 1500 + 1000 + 50)
    est = doc["time_estimate"]
    assert 5 < est["expected_min"] < est["max_min"]
    assert est["expected_end"] == "finished"


def test_plan_shows_steps_vessels_and_a_time_estimate() -> None:
    proc = invoke("plan", str(REFERENCE), "--json")
    assert proc.returncode == 0, proc.stderr
    _check_plan(json.loads(proc.stdout))


@pytest.mark.slow
def test_plan_as_a_process_prints_its_whole_document() -> None:
    proc = cli("plan", str(REFERENCE), "--json")
    assert proc.returncode == 0, proc.stderr
    _check_plan(json.loads(proc.stdout))


@pytest.mark.slow
def test_ctrl_c_stops_safely_and_the_run_resumes(tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    assert cli("run", str(REFERENCE), "--out", str(ref), "--json").returncode == 0
    out = tmp_path / "runs"
    # a SIGINT delivered in the middle of the run, as a Ctrl-C would be
    stopped = cli("run", str(REFERENCE), "--out", str(out),
                  env={"MSCROBOT_CRASH_AT": "60", "MSCROBOT_CRASH_SIGNAL": "INT"})
    assert stopped.returncode == 1, stopped.stderr
    assert "stopping safely" in stopped.stderr and "Traceback" not in stopped.stderr
    run = only_run(out)
    assert "stopped" in stopped.stdout and f"mscrobot run --resume {run.name}" in stopped.stdout
    events = [json.loads(x) for x in (run / "world.jsonl").read_text().splitlines()]
    assert [e for e in events if e["op"] == "stir"][-1]["rpm"] == 0.0  # stirrer left off
    shown = json.loads(cli("runs", "show", run.name, "--out", str(out), "--json").stdout)
    assert shown["state"] == "stopped" and shown["live"] is False
    resumed = cli("run", "--resume", run.name, "--out", str(out), "--json")
    assert resumed.returncode == 0, resumed.stderr
    got, want = end_state(run), end_state(only_run(ref))
    for key in ("verdicts", "spectra_digest", "volumes", "lab_t", "dispense_ops"):
        if key == "dispense_ops":
            assert len(got[key]) == len(want[key])
        else:
            assert got[key] == want[key], key
    # `runs resolve` as a process: nothing of a completed run waits for an answer
    late = cli("runs", "resolve", run.name, "--step", "1", "--done", "--out", str(out))
    assert late.returncode == 2 and "step 1 is not waiting for an answer (it is done)" in \
        late.stderr and "Traceback" not in late.stderr


def test_runs_list_show_report_export(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    done = invoke("run", str(REFERENCE), "--lab", TWIN, "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["forward"]["state"] == doc["back"]["state"] == "complete"
    assert Path(doc["report"]).is_file()
    assert doc["lab_time_s"] / doc["wall_time_s"] > 100  # a dry run is much faster than a lab
    run_id = doc["id"]

    listed = json.loads(invoke("runs", "list", "--out", str(out), "--json").stdout)["runs"]
    assert [r["id"] for r in listed] == [run_id] and listed[0]["state"] == "completed"
    plain = invoke("runs", "list", "--out", str(out))
    assert run_id[:15] in plain.stdout

    # an id prefix is enough
    shown = json.loads(invoke("runs", "show", run_id[:-3], "--out", str(out), "--json").stdout)
    assert shown["id"] == run_id and shown["forward"]["state"] == "complete"

    (out / run_id / "report.html").unlink()
    rep = invoke("runs", "report", run_id, "--out", str(out))
    assert rep.returncode == 0 and Path(rep.stdout.strip()).is_file()

    exported = invoke("runs", "export", run_id, "--format", "jcamp", "-o", str(tmp_path / "jdx"),
                      "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert len(list((tmp_path / "jdx").glob("*.jdx"))) == shown["spectra"]
    bad = invoke("runs", "export", run_id, "--format", "xlsx", "--out", str(out))
    assert bad.returncode == 2 and "csv or jcamp" in bad.stderr
    missing = invoke("runs", "show", "nope", "--out", str(out))
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr
