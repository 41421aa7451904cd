"""What the run commands read: a recipe or lab from a pipe is read once, and the run's journal
keeps the text that was validated, so the run resumes from the journal alone; a run id is a
name or the start of one, never a pattern."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from mscrobot.cli import app
from mscrobot.engine.journal import Journal
from tests.engine.runs import REFERENCE, lab_text, only_run


def _pipe(text: str) -> int:
    """The read end of a pipe holding ``text``, its writer closed (as ``cat`` leaves it)."""
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as w:
        w.write(text)
    return read_end


def test_a_recipe_and_lab_from_pipes_are_journaled_and_resume(tmp_path: Path) -> None:
    """``cat r.yaml | mscrobot run /dev/stdin``: /dev/fd/N of a pipe is what /dev/stdin is."""
    recipe, lab = _pipe(REFERENCE.read_text()), _pipe(lab_text())
    out = tmp_path / "runs"
    try:
        first = CliRunner().invoke(app, ["run", f"/dev/fd/{recipe}", "--lab", f"/dev/fd/{lab}",
                                         "--out", str(out), "--json"])
    finally:
        os.close(recipe)
        os.close(lab)
    assert first.exit_code == 0, (first.output, first.exception)
    run = only_run(out)
    journal = Journal(run / "journal.sqlite")
    try:
        meta = journal.meta()
    finally:
        journal.close()
    assert (meta["recipe_text"], meta["lab_text"]) == (REFERENCE.read_text(), lab_text())
    again = CliRunner().invoke(app, ["run", "--resume", run.name, "--out", str(out), "--json"])
    assert again.exit_code == 0, (again.output, again.exception)


def test_a_run_id_with_glob_characters_is_a_name_not_a_pattern(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    for name in ("20260101-000000-a-1234", "20260101-000000-b-5678"):
        (out / name).mkdir(parents=True)
        (out / name / "journal.sqlite").touch()
    for ref in ("2026*", "20260101-000000-[ab]-"):
        result = CliRunner().invoke(app, ["runs", "show", ref, "--out", str(out)])
        assert result.exit_code == 2, (result.output, result.exception)
        assert result.stderr == f"mscrobot: no run '{ref}' in {out}/ (see `mscrobot runs list`)\n"
