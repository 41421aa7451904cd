"""What every command shares: exit codes, one-line errors, the runs folder and lab options,
and loading a recipe with its lab (DESIGN.md §8: errors are one line on stderr; 0 ok, 1 a run
failed or stopped, 2 bad input)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

RunsDir = Annotated[Path, typer.Option("--out", help="Folder holding the runs.")]
LabOption = Annotated[str | None, typer.Option(
    "--lab", help="Lab config: a shipped lab's name or a YAML file (default: simulated, the "
    "twin with Opentrons-checked liquid handling; twin: without Opentrons, faster).")]


def fail(message: str, code: int) -> NoReturn:
    """Print ``mscrobot: message`` on stderr and end the command with ``code``."""
    typer.echo(f"mscrobot: {message}", err=True)
    raise typer.Exit(code)


def write_output(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output``, or to stdout when none is given."""
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}", EXIT_BAD_INPUT)


def load_lab_or_exit(lab_ref: str | None) -> Any:
    """The lab config named by ``--lab``; a bad one prints its problems and ends the command
    with exit 2."""
    from mscrobot.lab.config import LabError, load_lab

    try:
        return load_lab(lab_ref)[0]
    except LabError as exc:
        for p in exc.problems:
            typer.echo(str(p), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def load_inputs(recipe_path: Path, lab_ref: str | None) -> tuple[Any, str, Any, str]:
    """The recipe and lab, each with the text validated (read once: either may be a pipe);
    a bad one prints its problems and ends the command with exit 2."""
    from mscrobot.lab.config import LabError, load_lab
    from mscrobot.recipe import RecipeError, load_recipe

    try:
        loaded = load_recipe(recipe_path)
        lab, lab_text = load_lab(lab_ref)
    except (RecipeError, LabError) as exc:
        for p in exc.problems:
            typer.echo(str(p), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    return loaded.recipe, loaded.text, lab, lab_text

