"""Protocol export: protocols/ is what export writes today, every exported protocol passes
Opentrons' own simulation, and a recipe full of quotes and Python stays inert data."""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mscrobot.app.protocol_export import export_protocol, safe_name
from mscrobot.cli import app
from mscrobot.lab.config import lab_from_text, load_lab, shipped_labs
from mscrobot.recipe.loader import load_recipe, load_recipe_text
from tests.examples import example_recipes

ROOT = Path(__file__).resolve().parents[3]
RECIPES = example_recipes()
PROTOCOLS = ROOT / "protocols"
REFERENCE = ROOT / "recipes/cds34-zncl2.yaml"
HOSTILE_NAME = 'x"); import os; os.system("touch /tmp/pwned") #\'\'\' """ {DATA} \\ µ'


def _simulate(source: str) -> list[Any]:
    from opentrons.simulate import simulate

    runlog, _ = simulate(io.StringIO(source), file_name="exported.py")
    return runlog


def _data(source: str) -> dict[str, Any]:
    """The DATA document, read from the syntax tree (never by running the file)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DATA":
            call = node.value
            assert isinstance(call, ast.Call) and len(call.args) == 1
            literal = call.args[0]
            assert isinstance(literal, ast.Constant) and isinstance(literal.value, str)
            return json.loads(literal.value)
    raise AssertionError("no DATA")


def test_the_shipped_opentrons_lab_is_the_hardware_copy() -> None:
    assert shipped_labs()["simulated"] == (ROOT / "hardware/labs/simulated.yaml"
                                               ).read_text()


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_protocols_dir_holds_todays_export(path: Path) -> None:
    """After a deliberate change: `mscrobot protocol export RECIPE -o protocols/NAME.py`."""
    lab = load_lab("simulated")[0]
    source = export_protocol(load_recipe(path).recipe, lab)
    assert (PROTOCOLS / f"{path.stem}.py").read_text() == source
    data = _data(source)
    prepare = data["stages"][0]["prepare"]
    assert data["stages"][0]["rounds"] >= 1
    # the blanks go into the flow cell for their references before the phases meet
    assert [op["op"] for op in prepare] == ["reference"] * (len(prepare) - 2) + ["add", "add"]
    assert all(op["blank"] for op in prepare if op["op"] == "reference")


def test_a_hostile_recipe_name_stays_data() -> None:
    text = REFERENCE.read_text()
    first = next(line for line in text.splitlines() if line.startswith("name:"))
    recipe = load_recipe_text(text.replace(first, f"name: {json.dumps(HOSTILE_NAME)}"),
                              "hostile.yaml").recipe
    assert recipe.name == HOSTILE_NAME
    source = export_protocol(recipe, load_lab("simulated")[0])
    assert _data(source)["recipe"] == HOSTILE_NAME
    template = (ROOT / "mscrobot/lab/opentrons/protocol_template.py").read_text()
    tree, ref = ast.parse(source), ast.parse(template)
    # the same statements as the template: nothing was added, only literals filled in
    assert [type(n).__name__ for n in tree.body] == [type(n).__name__ for n in ref.body]
    for ours, theirs in zip(tree.body, ref.body, strict=True):
        if isinstance(ours, ast.FunctionDef | ast.Import | ast.ImportFrom | ast.Expr):
            assert ast.dump(ours) == ast.dump(theirs)
    name = safe_name(HOSTILE_NAME)
    assert f'"protocolName": "{name}"' in source and '"' not in name and "'" not in name


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(PROTOCOLS.glob("*.py")), ids=lambda p: p.stem)
def test_every_protocol_passes_opentrons_simulation(path: Path) -> None:
    runlog = _simulate(path.read_text())
    texts = [entry["payload"]["text"] for entry in runlog]
    assert any(t.startswith("Pausing robot operation: Round 1") for t in texts)
    assert sum(t.startswith("Picking up tip") for t in texts) == \
        sum(t.startswith("Dropping tip") for t in texts) > 0


@pytest.mark.slow
def test_a_hostile_name_and_a_flex_deck_simulate(flex_lab_text: str, tmp_path: Path) -> None:
    text = REFERENCE.read_text()
    first = next(line for line in text.splitlines() if line.startswith("name:"))
    recipe = load_recipe_text(text.replace(first, f"name: {json.dumps(HOSTILE_NAME)}"),
                              "hostile.yaml").recipe
    source = export_protocol(recipe, lab_from_text(flex_lab_text))
    assert '"robotType": "Flex"' in source
    runlog = _simulate(source)
    assert any("Trash Bin" in e["payload"]["text"] for e in runlog)
    assert not Path("/tmp/pwned").exists()


def test_export_refuses_a_lab_without_opentrons(tmp_path: Path) -> None:
    out = tmp_path / "p.py"
    result = CliRunner().invoke(app, ["protocol", "export", str(REFERENCE), "-o", str(out),
                                      "--lab", "twin"])
    assert result.exit_code == 2 and not out.exists()
    assert "has no Opentrons liquid handler" in result.output
