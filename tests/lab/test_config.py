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


def test_the_clock_is_the_devices_wall_unless_every_device_is_simulated() -> None:
    """Left out, the clock follows the devices: real time on a lab with any real or emulated
    device (with or without a physics link), virtual only where everything is simulated."""
    emulated = (ROOT / "hardware/labs/emulated.yaml").read_text()
    assert "clock:" not in emulated and "  speedup:" not in emulated
    lab = lab_from_text(emulated)
    assert lab.simulated and (lab.clock, lab.speedup) == ("wall", 20)  # the physics link
    real = lab_from_text(emulated.replace("physics: 127.0.0.1:4003", "integration_ms: 10"))
    assert not real.simulated and real.clock == "wall"
    robot = load_lab(ROOT / "hardware/labs/opentrons-emulated.yaml")[0]
    assert robot.simulated and (robot.clock, robot.speedup) == ("wall", 60)
    for name in ("simulated", "twin"):
        text = shipped_labs()[name].replace("clock: virtual\n", "")
        assert "clock:" not in text
        assert (lab_from_text(text).clock, lab_from_text(text).speedup) == ("virtual", 1)
    assert lab_from_text(shipped_labs()["twin"].replace(
        "clock: virtual", "clock: wall")).clock == "wall"  # real time, if asked


def _problems(text: str) -> list[str]:
    with pytest.raises(LabError) as err:
        lab_from_text(text, "lab.yaml")
    return [str(p) for p in err.value.problems]


def _line(text: str, line: str) -> int:
    return text.splitlines().index(line) + 1


def test_a_clock_that_contradicts_the_devices_is_refused_at_its_line() -> None:
    emulated = (ROOT / "hardware/labs/emulated.yaml").read_text()
    virtual = emulated.replace("\nspeedup: 20", "\nclock: virtual\nspeedup: 20")
    assert _problems(virtual) == [
        f"lab.yaml:{_line(virtual, 'clock: virtual')}:8: clock: virtual is the simulated "
        "world's time, and this lab speaks to devices that keep real time (liquid_handler, "
        "stirrer, spectrometer): write clock: wall, or leave it out"]
    assert lab_from_text(virtual.replace("clock: virtual", "clock: wall")).clock == "wall"
    sped = shipped_labs()["simulated"].replace("name: simulated", "name: simulated\nspeedup: 20")
    assert _problems(sped) == [f"lab.yaml:{_line(sped, 'speedup: 20')}:10: speedup: speeds up "
                               "a wall clock; this lab's clock is virtual and takes no real time"]


def test_a_speedup_of_one_device_is_refused_with_where_it_moved() -> None:
    emulated = (ROOT / "hardware/labs/emulated.yaml").read_text()
    text = emulated.replace("  backend: ika\n", "  backend: ika\n  speedup: 8\n")
    assert _problems(text) == [
        f"lab.yaml:{_line(text, '  speedup: 8')}:12: stirrer.speedup: a lab runs at one speed: "
        "write `speedup: 8` at the top of the lab file instead (and start every emulator with "
        "--speed 8)"]


def test_the_twins_faults_on_a_lab_with_a_real_stirrer_are_refused_at_their_field() -> None:
    """A check of several fields is placed at the one to change, not at the file's 1:1."""
    text = shipped_labs()["simulated"].replace(
        "sample_time: 20 s", "sample_time: 20 s\n  transient_failures: 2").replace(
        "backend: simulated\n  max_rpm", "backend: ika\n  url: socket://127.0.0.1:4001\n"
        "  max_rpm", 1)
    assert _problems(text) == [
        f"lab.yaml:{_line(text, '  transient_failures: 2')}:23: "
        "liquid_handler.transient_failures: injects faults into the simulated lab; a lab with "
        "a real device (stirrer) takes none"]
