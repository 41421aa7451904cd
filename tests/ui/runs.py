"""Runs for the browser view's tests, made by the real engine on the twin lab."""

from __future__ import annotations

from pathlib import Path

from mscrobot.app.runs import RunInfo, create_run, execute
from mscrobot.engine.runner import RunEnd
from mscrobot.lab.config import load_lab
from mscrobot.recipe.loader import load_recipe_text
from tests.engine.runs import REFERENCE, SUBTHRESHOLD

#: A recipe name a page must show as text, never run.
SCRIPT_NAME = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def new_run(out: Path, recipe: Path = REFERENCE, name: str | None = None) -> RunInfo:
    """A run created (not executed) in ``out``; ``name`` replaces the recipe's name."""
    text = recipe.read_text(encoding="utf-8")
    if name is not None:
        lines = text.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("name:"))
        lines[at] = "name: " + _yaml_str(name)
        text = "\n".join(lines) + "\n"
    lab, lab_text = load_lab("twin")
    return create_run(
        load_recipe_text(text, str(recipe)).recipe, text, str(recipe), lab, lab_text, 0, out
    )


def _yaml_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def completed_run(out: Path, name: str | None = None) -> tuple[RunInfo, RunEnd]:
    info = new_run(out, name=name)
    return info, execute(info)


def asking_run(out: Path) -> tuple[RunInfo, RunEnd]:
    """A sub-threshold run stopped at its first question to the operator."""
    info = new_run(out, SUBTHRESHOLD)
    end = execute(info)
    assert end.pending is not None
    return info, end
