"""``mscrobot campaign`` end to end: a real process writing a record and a report, the commands
it prints run as printed (in process, CliRunner), both slow; exit codes and clean errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mscrobot.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mscrobot.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300, check=False,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})


@pytest.mark.slow
def test_campaign_command_writes_a_record_and_a_report(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(f"""name: small screen
resources: {{stir_positions: 2}}
seed: 4
grid:
  base: {ROOT / 'recipes' / 'cds34-zncl2.yaml'}
  vary:
    salt.compound: [ZnCl2, Zn(OTf)2, Zn(OAc)2]
""", encoding="utf-8")
    proc = _cli("campaign", "c.yaml", "--out", "out", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    [folder] = list((tmp_path / "out").iterdir())
    assert doc["path"] == str(Path("out") / folder.name)
    assert (folder / "campaign.yaml").read_text() == (tmp_path / "c.yaml").read_text()
    summary = json.loads((folder / "summary.json").read_text())
    runs = summary["runs"]
    assert [r["seed"] for r in runs] == [4, 5, 6]
    assert sorted({r["position"] for r in runs}) == [0, 1]
    assert all(r["forward"] == "complete" and r["transfer_s"] > 0 for r in runs)
    assert all((folder / "runs" / r["id"] / "journal.sqlite").exists() for r in runs)
    assert summary["makespan_s"] >= summary["lower_bound_s"] > 0
    assert summary["intervals"] and summary["steps"]
    report = (folder / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 2 and "Zn(OTf)2" in report
    # a campaign run is an ordinary run folder: `runs show` reads it
    shown = _cli("runs", "show", runs[0]["id"], "--out", str(folder / "runs"), "--json",
                 cwd=tmp_path)
    assert shown.returncode == 0 and json.loads(shown.stdout)["state"] == "completed"


def test_bad_campaign_is_one_line_per_problem_and_exit_2(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("name: x\ngrid:\n  base: missing.yaml\n"
                                     "  vary: {salt.compound: [ZnCl2]}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["campaign", "c.yaml"])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("c.yaml:3:9: grid.base: recipe missing.yaml: ")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "campaigns").exists()
    result = CliRunner().invoke(app, ["campaign", "nowhere.yaml", "--lab", "no-such-lab"])
    assert result.exit_code == 2 and result.stderr == "nowhere.yaml:1:1: no such file\n"


@pytest.mark.slow  # two campaigns of a stalling run; test_record.py does it in the library
def test_a_waiting_run_is_answered_and_taken_up_by_the_commands_it_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The campaign names the resolve command of its waiting run and the resume after it; those
    commands, run as printed (in process), finish the run under the campaign."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(
        f"name: stall\nlab: twin\nresources: {{stir_positions: 1}}\nrecipes: "
        f"[{ROOT / 'recipes' / 'cds34-zncl2-subthreshold.yaml'}]\n", encoding="utf-8")
    first = _invoke("campaign", "c.yaml", "--out", "out")
    assert first.exit_code == 0, first.stderr
    [resolve] = [line.split("`")[1] for line in first.stderr.splitlines()
                 if "awaits the operator" in line]
    [resume] = [line.split("`")[1] for line in first.stderr.splitlines()
                if "takes the answered runs up" in line]
    assert resolve.startswith("mscrobot ") and resume.startswith("mscrobot ")
    answered = _invoke(*resolve.split()[1:-1], "--abort")  # the choices, one taken
    assert answered.exit_code == 0, answered.stderr
    assert "mscrobot campaign --resume" in answered.stdout
    alone = answered.stdout.split("`")[1].split()  # the run alone: its id and where it is
    assert alone[:3] == ["mscrobot", "run", "--resume"] and alone[4] == "--out"
    assert (tmp_path / alone[5] / alone[3]).is_dir()
    last = _invoke(*resume.split()[1:], "--json")
    assert last.exit_code == 0, last.stderr
    [run] = json.loads(last.stdout)["runs"]
    assert (run["state"], run["reason"]) == ("completed", "operator_aborted")


def _invoke(*args: str) -> Result:
    """A command in process; an exception that is not an exit fails the test."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result
