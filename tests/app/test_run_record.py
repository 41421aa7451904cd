"""What a run's record keeps and says about its chemistry, and who may drive its lab."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mscrobot.app.lablock import hold_lab
from mscrobot.app.runs import RunError, create_run, execute, load_run
from mscrobot.cli import app
from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.lab.config import load_lab
from mscrobot.recipe import load_recipe

SUBTHRESHOLD = "recipes/cds34-zncl2-subthreshold.yaml"
OLD = Path(__file__).resolve().parents[1] / "engine" / "data" / "journal-fb6f65a-twin-seed3.sqlite"


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSCROBOT_STATE_DIR", str(tmp_path / "state"))


def _create(source: str, lab_ref: str, runs: Path):  # type: ignore[no-untyped-def]
    lab, lab_text = load_lab(lab_ref)
    return create_run(load_recipe(source).recipe, Path(source).read_text(), source, lab,
                      lab_text, 0, runs)


def test_the_record_keeps_the_checks_warnings_and_what_is_beyond_the_paper(
        tmp_path: Path) -> None:
    info = _create(SUBTHRESHOLD, "twin", tmp_path)
    journal = Journal(info.path / JOURNAL_NAME)
    try:
        meta = journal.meta()
    finally:
        journal.close()
    assert any("5 Zn per cluster is below" in w for w in meta["warnings"])
    assert {r["topic"] for r in meta["beyond_the_paper"]} == {"polar band 2",
                                                              "band absorptivity"}


def test_run_says_its_amounts_and_warnings_at_the_start_and_show_says_them_to_a_person(
        tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", SUBTHRESHOLD, "--lab", "twin", "--out",
                                      str(tmp_path)])
    assert result.exit_code == 1  # it stalls and waits for the operator
    assert "metal: 0.15 µmol Zn from ZnCl2 100 µM = 5 Zn per cluster" in result.stderr
    assert "5 Zn per cluster is below the ~7.5" in result.stderr
    [run] = [p.name for p in tmp_path.iterdir()]
    shown = CliRunner().invoke(app, ["runs", "show", run, "--out", str(tmp_path)])
    assert shown.exit_code == 0
    assert "{" not in shown.stdout  # for people: no JSON fragments
    assert "  metal per cluster: 5 Zn" in shown.stdout
    assert "waiting for the operator at step" in shown.stdout
    as_json = json.loads(CliRunner().invoke(app, ["runs", "show", run, "--out",
                                                  str(tmp_path), "--json"]).stdout)
    assert as_json["amounts"]["metal_per_cluster"] == pytest.approx(5.0)
    listed = CliRunner().invoke(app, ["runs", "list", "--out", str(tmp_path)]).stdout
    assert listed.splitlines()[0] == "id\trecipe\tstate\tforward\tback\tlab_min"
    entry = CliRunner().invoke(app, ["runs", "notebook", run, "--out", str(tmp_path)])
    assert entry.exit_code == 0, entry.output
    assert (tmp_path / run / "notebook" / "entry.md").is_file()


def test_a_run_is_refused_while_another_process_holds_its_devices(tmp_path: Path) -> None:
    info = _create("recipes/cds34-zncl2.yaml", "hardware/labs/emulated.yaml", tmp_path)
    with hold_lab(info.lab, "someone-else", "campaign"), \
            pytest.raises(RunError, match="the robot http://127.0.0.1:31950 is in use by "
                          r"`mscrobot campaign` \(someone-else"):
        execute(info)
    journal = Journal(info.path / JOURNAL_NAME)
    try:
        assert journal.state() == ("created", "")  # refused before anything was touched
    finally:
        journal.close()


def test_a_refused_replay_leaves_a_completed_run_completed(tmp_path: Path) -> None:
    run = tmp_path / "old-run"
    run.mkdir()
    shutil.copy(OLD, run / JOURNAL_NAME)
    db = sqlite3.connect(run / JOURNAL_NAME)
    with db:  # a journal the plan no longer agrees with: the replay is refused
        db.execute("update steps set params = json_set(params, '$.volume_ul', 21.0) "
                   "where n = 1")
    db.close()
    with pytest.raises(RunError, match="cannot be resumed safely"):
        execute(load_run(run))
    journal = Journal(run / JOURNAL_NAME)
    try:
        assert journal.state()[0] == "completed"
    finally:
        journal.close()
