"""Heavy imports stay lazy: the recipe tools must not pay seconds for opentrons or prefect."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.examples import example_recipes

ROOT = Path(__file__).resolve().parents[1]
# scipy is absent from the list: pint imports it whenever it is installed.
HEAVY = ("opentrons", "prefect", "matplotlib", "seabreeze", "serial", "fastapi", "starlette",
         "uvicorn")

PROBE = """
import json, sys
from typer.testing import CliRunner
from mscrobot.cli import app
args = json.loads(sys.argv[1])
result = CliRunner().invoke(app, args)
heavy = sorted({m.split('.')[0] for m in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps({"exit": result.exit_code, "heavy": heavy}))
"""


def _modules_after(args: list[str]) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_recipe_commands_import_no_heavy_library() -> None:
    examples = [str(p) for p in example_recipes()]
    for args in (["recipe", "check", *examples], ["recipe", "new"], ["recipe", "schema"],
                 ["--help"], ["ui", "--help"]):
        outcome = _modules_after(args)
        assert outcome == {"exit": 0, "heavy": []}, args


def test_the_probe_would_see_a_heavy_import() -> None:
    """Guard against a probe that cannot fail: importing opentrons must show up."""
    proc = subprocess.run([sys.executable, "-c", "import sys, opentrons; "
                           "print('opentrons' in sys.modules)"],
                          capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "True"


def test_core_and_engine_import_neither_opentrons_nor_prefect() -> None:
    """The engine, the plan and the simulated lab are the core: a dry run must not pay for the
    robot's or the scheduler's libraries (matplotlib only when the report is drawn)."""
    probe = ("import sys, json; import mscrobot.app.runs, mscrobot.app.dryrun, "
             "mscrobot.report.summary; "
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
             f"set({list(HEAVY)!r}))))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert json.loads(proc.stdout) == []
