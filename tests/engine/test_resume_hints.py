"""Every resume command a run prints works as printed: it names ``--out`` when the run is not
in ./runs (and only then)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mscrobot.cli import app
from mscrobot.lab.protocols import DeviceError
from tests.engine.runs import REFERENCE, SUBTHRESHOLD, TWIN, lab_text, only_run

FAULTY = {"max_rpm: 1500 rpm": "max_rpm: 1500 rpm\n  fault_after: 0"}


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _printed(result: Result, pattern: str) -> list[str]:
    found = re.search(pattern, result.output)
    assert found is not None, result.output
    return shlex.split(found[1])


def test_a_failed_run_prints_a_resume_command_that_finds_it(tmp_path: Path) -> None:
    lab = tmp_path / "faulty.yaml"
    lab.write_text(lab_text(**FAULTY))
    out = tmp_path / "my runs"
    failed = _cli("run", str(REFERENCE), "--lab", str(lab), "--out", str(out))
    assert failed.exit_code == 1, failed.output
    command = _printed(failed, r"resume with: (.+)")
    assert command == ["mscrobot", "run", "--resume", only_run(out).name, "--out", str(out)]
    again = _cli(*command[1:])
    assert again.exit_code == 1 and f"run {only_run(out).name}: failed" in again.output


def test_a_run_in_the_default_folder_needs_no_out(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    lab = tmp_path / "faulty.yaml"
    lab.write_text(lab_text(**FAULTY))
    monkeypatch.chdir(tmp_path)
    failed = _cli("run", str(REFERENCE), "--lab", str(lab))
    assert _printed(failed, r"resume with: (.+)") == ["mscrobot", "run", "--resume",
                                                      only_run(tmp_path / "runs").name]


def test_a_run_that_cannot_start_names_its_folder(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*args: object, **kwargs: object) -> None:
        raise DeviceError("stirrer at socket://127.0.0.1:9: connection refused")

    monkeypatch.setattr("mscrobot.app.runs.build_lab", unreachable)
    out = tmp_path / "runs elsewhere"
    result = _cli("run", str(REFERENCE), "--lab", TWIN, "--out", str(out))
    assert result.exit_code == 1 and "cannot start run" in result.stderr, result.output
    assert _printed(result, r"resume with `(.+?)` once the device answers") == [
        "mscrobot", "run", "--resume", only_run(out).name, "--out", str(out)]


def test_an_answer_recorded_prints_the_resume_command_with_out(tmp_path: Path) -> None:
    out = tmp_path / "runs2"
    waiting = _cli("run", str(SUBTHRESHOLD), "--lab", TWIN, "--out", str(out), "--json")
    assert waiting.exit_code == 1 and '"awaiting_operator"' in waiting.stdout
    step = re.search(r'"step": (\d+)', waiting.stdout)
    assert step is not None
    answered = _cli("runs", "resolve", only_run(out).name, "--step", step[1], "--abort",
                    "--out", str(out))
    assert answered.exit_code == 0, answered.output
    assert _printed(answered, r"resume with `(.+)`") == [
        "mscrobot", "run", "--resume", only_run(out).name, "--out", str(out)]
