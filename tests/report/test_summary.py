"""The summary and the run table say what the journal says, for runs in every state."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.procedure.steps import Dispense
from mscrobot.report.data import UnreadableRunError
from mscrobot.report.summary import run_summary, run_table
from tests.report.conftest import HOSTILE_NAME, Runs

KEYS = {"id", "recipe", "lab", "seed", "created", "state", "live", "reason", "lab_time_s", "steps",
        "spectra", "forward", "back", "volumes", "pending", "report", "amounts", "amounts_text",
        "warnings", "beyond_the_paper", "verdict_note"}


def _journal(run: Path) -> Journal:
    return Journal(run / JOURNAL_NAME)


def test_summary_of_a_completed_run_matches_its_journal(runs: Runs) -> None:
    s = run_summary(runs.completed)
    j = _journal(runs.completed)
    try:
        meta, steps, verdicts = j.meta(), j.steps(), j.verdicts()
        samples = [sp for sp in j.spectra() if sp.meta["kind"] == "sample"]
        states = j.states()
    finally:
        j.close()
    assert set(s) == KEYS
    assert json.loads(json.dumps(s)) == s
    assert s["id"] == meta["id"] == runs.completed.name
    assert s["recipe"] == {"name": meta["recipe_name"], "source": "recipes/cds34-zncl2.yaml"}
    assert (s["lab"], s["seed"], s["created"]) == ("simulated", 0, meta["created"])
    assert (s["state"], s["reason"], s["live"]) == ("completed", "finished", False)
    assert s["lab_time_s"] == states[-1]["lab_t"] == max(r.ended_t or 0.0 for r in steps)
    assert s["steps"] == len(steps)
    assert s["spectra"] == len(samples) > 0
    for stage in ("forward", "back"):
        last = [v for v in verdicts if v["stage"] == stage][-1]
        assert s[stage]["state"] == last["state"]
        assert s[stage]["action"] == last["action"]
        assert s[stage]["reasons"] == last["reasons"]
    assert s["back"]["state"] == "complete"
    last_vessels = [r.outcome["vessels"] for r in steps if r.outcome and "vessels" in r.outcome]
    assert s["volumes"] == last_vessels[-1]
    assert s["pending"] is None


def test_a_run_awaiting_the_operator_shows_the_question(runs: Runs) -> None:
    s = run_summary(runs.awaiting)
    assert s["state"] == "awaiting_operator"
    assert s["forward"]["action"] == "stop_for_operator"
    assert s["back"] is None
    pending = s["pending"]
    assert pending["kind"] == "ask_operator"
    assert pending["choices"] == ["continue", "extend", "add_salt", "abort"]
    assert pending["answer"] is None
    assert "stalled" in pending["question"]
    assert f"--step {pending['step']}" in s["reason"]


def test_an_interrupted_step_is_the_pending_question(tmp_path: Path) -> None:
    """A dispense left at 'intent' that the device cannot vouch for: done or not done?"""
    j = Journal(tmp_path / JOURNAL_NAME)
    j.init({"id": "r1", "recipe_name": "x", "recipe_text": "", "recipe_source": "x.yaml",
            "lab_name": "lab", "lab_text": "", "seed": 3, "created": "now"})
    j.set_state("created", 0.0)
    j.set_state("running", 0.0, "started")
    j.intent(1, Dispense("salt_stock", "reaction", 100.0, "salt", "polar"), 5.0, None)
    j.set_state("awaiting_operator", 7.0, "step 1 was interrupted; answer --done|--not-done")
    j.close()
    s = run_summary(tmp_path)
    assert s["pending"] == {"step": 1, "kind": "dispense",
                            "question": "step 1 was interrupted; answer --done|--not-done",
                            "choices": ["done", "not-done"], "answer": None}
    assert (s["spectra"], s["volumes"], s["forward"], s["lab_time_s"]) == (0, None, None, 7.0)


def test_failed_stopped_and_fresh_runs_summarise(runs: Runs) -> None:
    failed, stopped, fresh = (run_summary(p) for p in (runs.failed, runs.stopped, runs.fresh))
    assert failed["state"] == "failed" and "DeviceFaultError" in failed["reason"]
    assert failed["forward"]["state"] == "not_started" and failed["spectra"] == 2
    assert stopped["state"] == "stopped" and stopped["steps"] == 0
    assert fresh["state"] == "created" and fresh["recipe"]["name"] == HOSTILE_NAME
    for s in (stopped, fresh):
        assert (s["spectra"], s["volumes"], s["pending"], s["lab_time_s"]) == (0, None, None, 0.0)


def test_a_missing_journal_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(UnreadableRunError, match=r"no journal\.sqlite"):
        run_summary(tmp_path)
    assert not (tmp_path / JOURNAL_NAME).exists()


def test_run_table_lists_runs_and_survives_bad_journals(runs: Runs, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    root.mkdir()
    for name in ("completed", "awaiting"):
        src = getattr(runs, name)
        (root / src.name).mkdir()
        (root / src.name / JOURNAL_NAME).write_bytes((src / JOURNAL_NAME).read_bytes())
    (root / "not-a-run").mkdir()
    (root / "corrupt").mkdir()
    (root / "corrupt" / JOURNAL_NAME).write_bytes(b"this is not a database" * 100)
    locked = root / "locked"
    locked.mkdir()
    (locked / JOURNAL_NAME).write_bytes((runs.failed / JOURNAL_NAME).read_bytes())
    holder = sqlite3.connect(locked / JOURNAL_NAME, isolation_level=None)
    holder.execute("pragma locking_mode=exclusive")
    holder.execute("begin exclusive")
    try:
        t0 = time.perf_counter()
        table = run_table(root)
        elapsed = time.perf_counter() - t0
    finally:
        holder.execute("rollback")
        holder.close()
    by_id = {row["id"]: row for row in table}
    assert set(by_id) == {runs.completed.name, runs.awaiting.name, "corrupt", "locked"}
    assert [r["id"] for r in table] == sorted(by_id)
    done = by_id[runs.completed.name]
    assert (done["state"], done["forward"], done["back"]) == ("completed", "complete", "complete")
    assert done["recipe"] == "(CdS)34 with ZnCl2 in DMF" and done["lab_time_s"] > 0
    assert by_id[runs.awaiting.name]["state"] == "awaiting_operator"
    assert by_id["corrupt"]["state"] == by_id["locked"]["state"] == "unreadable"
    assert "not a database" in by_id["corrupt"]["reason"]
    assert "locked" in by_id["locked"]["reason"]
    assert elapsed < 3.0  # not the 5 s sqlite would wait per locked journal
    assert json.loads(json.dumps(table)) == table


def test_run_table_of_no_folder_is_empty(tmp_path: Path) -> None:
    assert run_table(tmp_path / "nowhere") == []
