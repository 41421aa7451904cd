"""The ``mscrobot`` command line (DESIGN.md §8).

Exit codes: 0 ok, 1 run failed or stopped, 2 bad input. Errors go to stderr, one line each; a
traceback only with ``--debug``. Heavy libraries (opentrons, prefect) are imported inside the
commands that need them, never here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mscrobot import __version__

# Band fits are small dense least-squares problems: a multi-threaded OpenBLAS makes them ~3x
# slower on small machines. Set before numpy loads; an explicit setting by the user wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

app = typer.Typer(
    name="mscrobot",
    help="Robotic biphasic ligand exchange of magic-size clusters: recipes, dry runs, labs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
recipe_app = typer.Typer(help="Write and check recipes (no lab needed).", no_args_is_help=True)
app.add_typer(recipe_app, name="recipe")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mscrobot {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]
    = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    _state["debug"] = debug


@recipe_app.command("check")
def recipe_check(
    files: Annotated[list[Path], typer.Argument(help="Recipe files (YAML or JSON).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
    = False,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
) -> None:
    """Validate recipes: exit 0 if all are valid, 2 if any is not.

    Problems are printed as file:line:col: field: message.
    """
    from mscrobot.recipe import RecipeError, load_recipe

    results = []
    for path in files:
        try:
            loaded = load_recipe(path)
            problems, valid = loaded.warnings, not (strict and loaded.warnings)
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
        _fail(str(exc), EXIT_BAD_INPUT)
    _write(text, output)


@recipe_app.command("schema")
def recipe_schema(
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="Write here instead of stdout.")] = None,
) -> None:
    """Print the recipe JSON Schema (for editors: see the README)."""
    from mscrobot.recipe.schema import recipe_schema_text

    _write(recipe_schema_text(), output)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc.strerror or exc}", EXIT_BAD_INPUT)


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"mscrobot: {message}", err=True)
    raise typer.Exit(code)


from mscrobot.cli_campaign import register as _register_campaign  # noqa: E402
from mscrobot.cli_emulate import register as _register_emulators  # noqa: E402
from mscrobot.cli_protocol import register as _register_protocol  # noqa: E402
from mscrobot.cli_run import register as _register_run_commands  # noqa: E402

_register_run_commands(app)
_register_emulators(app)
_register_campaign(app)
_register_protocol(app)


def main() -> None:
    """Console entry point: no traceback reaches a user unless ``--debug`` is given."""
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        typer.echo("mscrobot: interrupted", err=True)
        _exit(130)
    except SystemExit as done:
        _exit(done.code)
    except Exception as exc:
        if "--debug" in sys.argv:
            raise
        typer.echo(f"mscrobot: internal error: {type(exc).__name__}: {exc} "
                   "(run with --debug for the traceback)", err=True)
        _exit(EXIT_FAILED)
    _exit(0)


def _exit(code: object) -> None:
    """End the process without the interpreter's teardown: freeing scipy's, matplotlib's and
    pint's objects one by one takes ~0.5 s of a dry run, and every file is closed by now. The
    atexit hooks (logging, the crash matrix's counter) still run, and the streams are flushed."""
    import atexit

    if code is not None and not isinstance(code, int):  # sys.exit("message")
        print(code, file=sys.stderr)
        code = EXIT_FAILED
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    main()
