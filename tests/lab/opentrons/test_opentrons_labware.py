"""mscrobot's custom labware: valid Opentrons labware, the shipped and hardware/ copies equal,
and vial holders that fit the recipe vessels they are named after."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from opentrons_shared_data.labware.labware_definition import LabwareDefinition2

from mscrobot.lab.opentrons.labware import custom_definitions, find_labware
from mscrobot.recipe.vessels import VIAL_TYPES

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "mscrobot/lab/opentrons/labware"
SCHEMA = json.loads(resources.files("opentrons_shared_data").joinpath(
    "data/labware/schemas/2.json").read_text())


def test_hardware_copies_are_the_shipped_definitions() -> None:
    names = sorted(p.name for p in SHIPPED.glob("*.json"))
    assert names == sorted(p.name for p in (ROOT / "hardware/labware").glob("*.json"))
    for name in names:
        assert (SHIPPED / name).read_text() == (ROOT / "hardware/labware" / name).read_text()


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.json")), ids=lambda p: p.stem)
def test_definition_is_valid_opentrons_labware(path: Path) -> None:
    d = json.loads(path.read_text())
    jsonschema.validate(d, SCHEMA)
    LabwareDefinition2.model_validate(d)
    assert d["parameters"]["loadName"] == path.stem and d["namespace"] == "custom_beta"
    assert sorted(w for col in d["ordering"] for w in col) == sorted(d["wells"])
    for name, w in d["wells"].items():
        assert w["z"] + w["depth"] <= d["dimensions"]["zDimension"] + 1e-9, name
        area = math.pi * (w["diameter"] / 2) ** 2
        assert area * w["depth"] >= w["totalLiquidVolume"], name  # the well holds its volume


def test_a_bad_definition_fails_the_schema() -> None:
    """Guard: the schema check above can fail."""
    d = json.loads((SHIPPED / "mscrobot_flow_cell_inlet.json").read_text())
    d["wells"]["A1"]["shape"] = "hexagonal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d, SCHEMA)


@pytest.mark.parametrize("vessel", sorted(VIAL_TYPES))
def test_each_recipe_vessel_has_a_stirrer_holder_that_fits(vessel: str) -> None:
    v = VIAL_TYPES[vessel]
    ref = find_labware(f"mscrobot_stirrer_vial_{vessel.removeprefix('vial-').lower()}")
    assert ref is not None and ref.custom
    well = ref.definition["wells"]["A1"]
    assert well["diameter"] == v.inner_diameter_mm
    assert well["totalLiquidVolume"] == v.nominal_ml * 1000


def test_standard_labware_is_found_and_unknown_names_are_not() -> None:
    ref = find_labware("agilent_1_reservoir_290ml")
    assert ref is not None and not ref.custom and ref.namespace == "opentrons"
    assert find_labware("no_such_labware") is None
    assert set(custom_definitions()) >= {"mscrobot_flow_cell_inlet", "mscrobot_6_vialrack_20ml"}
