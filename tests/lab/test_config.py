"""Lab configs: the shipped simulated lab, the copy users edit, and errors with places."""

from __future__ import annotations

from pathlib import Path

import pytest

from mscrobot.app.feasibility import check_lab
from mscrobot.lab.config import LabError, lab_from_text, load_lab, shipped_labs
from mscrobot.recipe.loader import load_recipe
from tests.examples import example_recipes

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["simulated", "twin"])
def test_hardware_copies_of_the_shipped_labs_are_the_shipped_ones(name: str) -> None:
    assert (ROOT / f"hardware/labs/{name}.yaml").read_text() == shipped_labs()[name]


def test_default_lab_is_the_opentrons_checked_simulated_one_and_can_run_every_example() -> None:
    lab, _ = load_lab()
    assert lab.name == "simulated" and lab.clock == "virtual"
    assert (lab.liquid_handler.backend, lab.liquid_handler.robot) == ("opentrons", "simulate")
    twin, _ = load_lab("twin")
    assert twin.liquid_handler.backend == "simulated" and twin.deck.keys() == lab.deck.keys()
    for path in example_recipes():
        recipe = load_recipe(path).recipe
        assert check_lab(lab, recipe) == check_lab(twin, recipe) == [], path.name


def test_a_lab_file_by_path_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(shipped_labs()["simulated"].replace("name: simulated", "name: mine"))
    lab, text = load_lab(path)
    assert lab.name == "mine" and text == path.read_text()


def test_unknown_keys_and_bad_units_are_placed(tmp_path: Path) -> None:
    text = shipped_labs()["simulated"].replace("max_rpm: 1500 rpm", "max_rpm: 1500 kg")
    text = text.replace("clock: virtual", "clock: virtual\nrobot: ot2")
    with pytest.raises(LabError) as err:
        lab_from_text(text, "lab.yaml")
    shown = [str(p) for p in err.value.problems]
    line_rpm = text.splitlines().index("  max_rpm: 1500 kg") + 1
    assert any(s.startswith(f"lab.yaml:{line_rpm}:") and "stirrer.max_rpm" in s for s in shown)
    assert any("robot" in s for s in shown)


def test_missing_position_is_reported_by_the_lab_check() -> None:
    text = "\n".join(line for line in shipped_labs()["simulated"].splitlines()
                     if not line.lstrip().startswith("ola_stock:"))
    recipe = load_recipe(ROOT / "recipes/cds34-zncl2.yaml").recipe
    assert check_lab(lab_from_text(text), recipe) == ["deck has no 'ola_stock' position"]


def test_emulated_lab_file_is_valid_and_names_an_ika_stirrer() -> None:
    lab, _ = load_lab(ROOT / "hardware/labs/emulated.yaml")
    assert lab.stirrer.backend == "ika" and lab.stirrer.url == "socket://127.0.0.1:4001"
    recipe = load_recipe(ROOT / "recipes/cds34-zncl2.yaml").recipe
    assert check_lab(lab, recipe) == []


def test_an_ika_stirrer_without_a_url_is_refused() -> None:
    text = shipped_labs()["simulated"].replace("backend: simulated\n  max_rpm: 1500 rpm",
                                               "backend: ika")
    with pytest.raises(LabError, match="needs a url"):
        lab_from_text(text)


def test_hardware_copies_of_the_device_profiles_are_the_shipped_ones() -> None:
    shipped = ROOT / "mscrobot/lab/stirrer/devices"
    names = sorted(p.name for p in shipped.glob("*.yaml"))
    assert names and names == sorted(p.name for p in (ROOT / "hardware/devices").glob("*.yaml"))
    for name in names:
        assert (shipped / name).read_text() == (ROOT / "hardware/devices" / name).read_text()


def test_a_lab_that_simulates_nothing_needs_the_wall_clock() -> None:
    """Virtual time is the simulated world's: without a simulated device or an emulator's
    physics link there is no World to keep it."""
    emulated = (ROOT / "hardware/labs/emulated.yaml").read_text()
    assert lab_from_text(emulated).simulated  # the physics link carries the simulated cell
    real = emulated.replace("physics: 127.0.0.1:4003", "integration_ms: 10")
    with pytest.raises(LabError) as err:
        lab_from_text(real, "real.yaml")
    assert any("needs clock: wall" in str(p) for p in err.value.problems)
    assert not lab_from_text(real.replace("clock: virtual", "clock: wall")).simulated
    assert load_lab("twin")[0].simulated and load_lab()[0].simulated
