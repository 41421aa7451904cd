"""The ``mscrobot`` command line (DESIGN.md §8), assembled from one module per command group.

Exit codes: 0 ok, 1 run failed or stopped, 2 bad input. Errors go to stderr, one line each; a
traceback only with ``--debug``. Heavy libraries (opentrons, prefect) are imported inside the
commands that need them, never here.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from mscrobot import __version__

# Band fits are small dense least-squares problems: a multi-threaded OpenBLAS makes them ~3x
# slower on small machines. Set before numpy loads; an explicit setting by the user wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from mscrobot.cli import campaign, devices, emulate, lab, plan, protocol, recipe, run, runs, ui
from mscrobot.cli.common import EXIT_FAILED

app = typer.Typer(
    name="mscrobot",
    help="Robotic biphasic ligand exchange of magic-size clusters: recipes, dry runs, labs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
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


app.add_typer(recipe.recipe_app, name="recipe")
app.command("run")(run.run)
app.command("plan")(plan.plan)
app.add_typer(runs.runs_app, name="runs")
app.add_typer(devices.devices_app, name="devices")
app.add_typer(emulate.emulate_app, name="emulate")
app.add_typer(lab.lab_app, name="lab")
app.command("campaign")(campaign.campaign)
app.add_typer(protocol.protocol_app, name="protocol")
app.command("ui")(ui.ui)


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

