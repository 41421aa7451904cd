"""Bad input to ``mscrobot run``: a clear one-line error, exit code 2, no traceback, no run.

In process (CliRunner), on the twin lab; the missing recipe also as a real ``mscrobot run``
process on the default lab (its Opentrons child started early, let go when the run is refused):
~5 s, as it loads the report's libraries before it reads the recipe, so it is marked slow."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.engine.runs import REFERENCE, TWIN, Ran, cli, invoke, lab_text, run_folders


def _refused(proc: Ran | subprocess.CompletedProcess[str], out: Path, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)
    assert not run_folders(out)


def test_missing_recipe_file(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    _refused(invoke("run", str(tmp_path / "nope.yaml"), "--lab", TWIN, "--out", str(out)), out,
             "nope.yaml:1:1", "no such file")


@pytest.mark.slow
def test_missing_recipe_file_as_a_process_on_the_default_lab(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    _refused(cli("run", str(tmp_path / "nope.yaml"), "--out", str(out)), out,
             "nope.yaml:1:1", "no such file")


def test_missing_lab_file(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    _refused(invoke("run", str(REFERENCE), "--lab", str(tmp_path / "lab.yaml"), "--out", str(out)),
             out, "lab.yaml", "no such lab file", "simulated")


def test_lab_file_with_a_wrong_device_names_line_and_field(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    text = lab_text(**{"stirrer:\n  backend: simulated": "stirrer:\n  backend: hotplate-3000"})
    lab.write_text(text)
    line = text.splitlines().index("  backend: hotplate-3000") + 1
    out = tmp_path / "runs"
    _refused(invoke("run", str(REFERENCE), "--lab", str(lab), "--out", str(out)), out,
             f"lab.yaml:{line}:", "stirrer.backend")


def test_recipe_overfilling_its_vessel(tmp_path: Path) -> None:
    recipe = tmp_path / "big.yaml"
    recipe.write_text(REFERENCE.read_text().replace("vessel: vial-8mL", "vessel: vial-2mL"))
    out = tmp_path / "runs"
    _refused(invoke("run", str(recipe), "--lab", TWIN, "--out", str(out)), out, "big.yaml:",
             "vessel",
             "may be filled to")


def test_lab_that_lacks_what_the_recipe_needs(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(lab_text(**{"max_rpm: 1500 rpm": "max_rpm: 600 rpm",
                               "capacity: 20 mL, volume: 5 mL}":
                               "capacity: 20 mL, volume: 10 uL}"}))
    out = tmp_path / "runs"
    _refused(invoke("run", str(REFERENCE), "--lab", str(lab), "--out", str(out)), out,
             "cannot run recipe", "ola_stock holds 10 µL", "stirrer reaches 600 rpm")


def test_resume_of_an_unknown_run(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    _refused(invoke("run", "--resume", "20990101-nothing", "--out", str(out)), out,
             "no run '20990101-nothing'")


def test_resume_with_a_recipe_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    _refused(invoke("run", str(REFERENCE), "--resume", "x", "--out", str(out)), out,
             "--resume continues a run")
