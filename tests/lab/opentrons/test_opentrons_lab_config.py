"""Opentrons lab files: valid for every example, placed errors, deck checks that need no
robot, no opentrons import to check a lab, and a deck Opentrons refuses fails a run cleanly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mscrobot.app.feasibility import check_lab
from mscrobot.cli import app
from mscrobot.lab.config import LabError, lab_from_text, load_lab
from mscrobot.recipe.loader import load_recipe
from tests.examples import example_recipes

ROOT = Path(__file__).resolve().parents[3]
OT_LAB = ROOT / "hardware/labs/simulated.yaml"
REFERENCE = ROOT / "recipes/cds34-zncl2.yaml"


def _text(**edits: str) -> str:
    text = OT_LAB.read_text()
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def test_the_opentrons_lab_can_run_every_example(flex_lab_text: str) -> None:
    emulated = load_lab(ROOT / "hardware/labs/opentrons-emulated.yaml")[0]
    assert emulated.liquid_handler.robot == "http://127.0.0.1:31950"
    for lab in (load_lab(OT_LAB)[0], lab_from_text(flex_lab_text), emulated):
        assert lab.liquid_handler.backend == "opentrons"
        for path in example_recipes():
            assert check_lab(lab, load_recipe(path).recipe) == [], (lab.name, path.name)


def test_an_unknown_pipette_is_placed_at_its_line() -> None:
    text = _text(**{"name: p300_single_gen2": "name: p200_single_gen9"})
    with pytest.raises(LabError) as err:
        lab_from_text(text, "lab.yaml")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "p200_single_gen9" in s)
    shown = [str(p) for p in err.value.problems]
    assert any(s.startswith(f"lab.yaml:{line}:") and "liquid_handler.pipettes.right.name" in s
               and "unknown pipette" in s for s in shown), shown


def test_a_flex_pipette_on_an_ot2_and_no_pipettes_are_refused() -> None:
    with pytest.raises(LabError, match="cannot be mounted on an OT-2"):
        lab_from_text(_text(**{"name: p300_single_gen2": "name: p50_single_flex"}))
    lines = [s for s in OT_LAB.read_text().splitlines()
             if not s.lstrip().startswith(("pipettes:", "left:", "right:"))]
    with pytest.raises(LabError, match="needs pipettes"):
        lab_from_text("\n".join(lines))
    with pytest.raises(LabError, match="robot"):
        lab_from_text(_text(**{"robot: simulate ": "robot: ftp://10.0.0.2 "}))


def test_deck_problems_are_found_before_any_robot() -> None:
    recipe = load_recipe(REFERENCE).recipe
    lab = lab_from_text(_text(**{
        "labware: agilent_1_reservoir_290ml": "labware: no_such_reservoir",
        "well: B1, labware: mscrobot_6_vialrack_20ml":
            "well: C9, labware: mscrobot_6_vialrack_20ml",
        "labware: mscrobot_stirrer_vial_8ml": "labware: mscrobot_stirrer_vial_20ml",
        'tip_slots: ["10"]': 'tip_slots: ["5"]',
    }))
    problems = check_lab(lab, recipe)
    assert any("no labware 'no_such_reservoir'" in p for p in problems), problems
    assert any("has no well C9" in p for p in problems), problems
    assert any("tip rack slot 5 is used by the deck" in p for p in problems), problems
    assert any("holds a 25 mm vial; the recipe's vial-8mL is 14.5 mm" in p for p in problems)
    clash = lab_from_text(_text(**{'flow_cell:     {slot: "5"': 'flow_cell:     {slot: "2"'}))
    assert any("slot 2 holds mscrobot_6_vialrack_20ml, not mscrobot_flow_cell_inlet" in p
               for p in check_lab(clash, recipe))


def test_checking_an_opentrons_lab_imports_no_opentrons() -> None:
    probe = ("import sys, json; from mscrobot.lab.config import load_lab; "
             "from mscrobot.app.feasibility import check_lab; "
             "from mscrobot.recipe.loader import load_recipe; "
             f"lab = load_lab({str(OT_LAB)!r})[0]; "
             f"assert check_lab(lab, load_recipe({str(REFERENCE)!r}).recipe) == []; "
             "print(json.dumps('opentrons' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert json.loads(out.stdout) is False


@pytest.mark.parametrize(("slot", "code", "says"), [
    # Opentrons would refuse it only at the deck setup, once the run exists, which reads as a
    # device that does not answer ("resume once the device answers"): refused before instead
    ("13", 2, "cannot run recipe .* tip rack slot '13': an OT-2 has no such slot"),
    # slot 12 of an OT-2 is the trash: Opentrons would take the tip rack and refuse only the
    # first tip dropped in the trash, mid-run; the lab check refuses it before the run
    ("12", 2, "cannot run recipe .* slot 12 holds the OT-2's trash"),
])
def test_a_deck_opentrons_refuses_fails_the_run_in_one_line(tmp_path: Path, slot: str,
                                                             code: int, says: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(_text(**{'"11", "8", "7"': f'"11", "8", "{slot}"'}))
    result = CliRunner().invoke(app, ["run", str(REFERENCE), "--lab", str(bad),
                                      "--out", str(tmp_path / "runs")])
    assert result.exit_code == code
    assert re.search(says, result.output), result.output
    assert "Traceback" not in result.output
