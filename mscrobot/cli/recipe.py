"""``mscrobot recipe …``: write and check recipes (no lab needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mscrobot.cli.common import EXIT_BAD_INPUT, EXIT_OK, fail, write_output

recipe_app = typer.Typer(help="Write and check recipes (no lab needed).", no_args_is_help=True)


@recipe_app.command("check")
def recipe_check(
    files: Annotated[list[Path], typer.Argument(help="Recipe files (YAML or JSON).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
    = False,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    lab: Annotated[str | None, typer.Option(
        "--lab", help="Also check against this lab (a shipped lab's name or a YAML file): "
        "its deck, pipettes and devices, in a dry run that touches none of them.")] = None,
) -> None:
    """Validate recipes: exit 0 if all are valid, 2 if any is not.

    Problems are printed as file:line:col: field: message.
    """
    from mscrobot.recipe import RecipeError, load_recipe

    config = None
    if lab is not None:
        from mscrobot.lab.config import LabError, load_lab

        try:
            config = load_lab(lab)[0]
        except LabError as exc:
            for p in exc.problems:
                typer.echo(str(p), err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
    results = []
    for path in files:
        try:
            loaded = load_recipe(path)
            problems, valid = loaded.warnings, not (strict and loaded.warnings)
            if config is not None:
                refused = _refusals(loaded, config)
                problems, valid = [*refused, *problems], valid and not refused
        except RecipeError as exc:
            problems, valid = exc.problems, False
        results.append({"file": str(path), "valid": valid,
                        "problems": [p.as_dict() for p in problems]})
        if not as_json:
            for p in problems:
                typer.echo(str(p), err=True)
            if valid:
                warned = f" ({len(problems)} warning{'s' * (len(problems) != 1)})" if problems \
                    else ""
                typer.echo(f"ok {path}{warned}")
    all_valid = all(r["valid"] for r in results)
    if as_json:
        typer.echo(json.dumps({"valid": all_valid, "files": results}, indent=2))
    elif len(files) > 1:
        bad = sum(not r["valid"] for r in results)
        typer.echo(f"{len(files) - bad} of {len(files)} recipes valid", err=bad > 0)
    raise typer.Exit(EXIT_OK if all_valid else EXIT_BAD_INPUT)


def _refusals(loaded: Any, config: Any) -> list[Any]:
    """The lab's refusals of a loaded recipe, placed at the recipe field they point at."""
    from mscrobot.app.drylab import refusals
    from mscrobot.yamldoc import parse_document

    doc = parse_document(loaded.text, loaded.source)
    return [doc.problem(loc, message) for loc, message in refusals(loaded.recipe, config)]


@recipe_app.command("new")
def recipe_new(
    cluster: Annotated[str, typer.Option(help="CdS, CdSe or ZnSe.")] = "CdS",
    salt: Annotated[str, typer.Option(help="ZnCl2, Zn(NO3)2, Zn(OTf)2, Zn(OAc)2, InCl3, ...")]
    = "ZnCl2",
    solvent: Annotated[str, typer.Option(help="Polar solvent of the salt phase.")] = "DMF",
    name: Annotated[str | None, typer.Option(help="Recipe name.")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="Write here instead of stdout.")] = None,
) -> None:
    """Print a commented, valid recipe to start from."""
    from mscrobot.chemistry import UnknownNameError
    from mscrobot.recipe.template import recipe_template

    try:
        text = recipe_template(cluster, salt, solvent, name)
    except UnknownNameError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    write_output(text, output)


@recipe_app.command("schema")
def recipe_schema(
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="Write here instead of stdout.")] = None,
) -> None:
    """Print the recipe JSON Schema (for editors: see the README)."""
    from mscrobot.recipe.schema import recipe_schema_text

    write_output(recipe_schema_text(), output)

