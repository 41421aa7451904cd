"""The command line as a user meets it: exit codes, one-line errors, JSON, no tracebacks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from mscrobot.cli import app
from tests.examples import example_recipes

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "recipes" / "cds34-zncl2.yaml"
runner = CliRunner()


def test_check_accepts_every_example() -> None:
    examples = [str(p) for p in example_recipes()]
    result = runner.invoke(app, ["recipe", "check", *examples])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("ok ") == len(examples)


def test_check_json_has_stable_keys(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncluster: {}\n", encoding="utf-8")
    result = runner.invoke(app, ["recipe", "check", "--json", str(REFERENCE), str(bad)])
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["valid"] is False
    assert [f["valid"] for f in doc["files"]] == [True, False]
    problem = doc["files"][1]["problems"][0]
    assert set(problem) == {"file", "line", "column", "field", "message", "severity"}
    assert problem["line"] == 2


def test_strict_turns_warnings_into_failure() -> None:
    sub = ROOT / "recipes" / "cds34-zncl2-subthreshold.yaml"
    assert runner.invoke(app, ["recipe", "check", str(sub)]).exit_code == 0
    assert runner.invoke(app, ["recipe", "check", "--strict", str(sub)]).exit_code == 2


def test_new_writes_a_recipe_that_checks(tmp_path: Path) -> None:
    out = tmp_path / "mine.yaml"
    result = runner.invoke(app, ["recipe", "new", "--cluster", "CdSe", "--salt",
                                 "Zn(OAc)2", "-o", str(out)])
    assert result.exit_code == 0
    assert runner.invoke(app, ["recipe", "check", str(out)]).exit_code == 0


def test_new_with_unknown_salt_is_bad_input() -> None:
    result = runner.invoke(app, ["recipe", "new", "--salt", "CuCl2"])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("mscrobot: unknown salt 'CuCl2'")


def test_schema_is_json() -> None:
    result = runner.invoke(app, ["recipe", "schema"])
    assert json.loads(result.stdout)["title"] == "Recipe"


def test_installed_command_reports_errors_without_traceback(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.yaml"
    garbage.write_bytes(bytes(range(256)) * 4)
    proc = subprocess.run([sys.executable, "-m", "mscrobot.cli", "recipe", "check",
                           str(garbage), str(tmp_path / "missing.yaml")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert re.match(rf"{re.escape(str(garbage))}:2:118: not UTF-8 text", lines[0])
    assert lines[1] == f"{tmp_path / 'missing.yaml'}:1:1: no such file"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("mscrobot ")
