"""The heater (NAMUR function 1) is switched off when the stirrer opens, with every motor stop,
after a fault and on close; the probe is read where the lab has one, and a lab without one says
that the recipe's temperature drives nothing, at the start and in the run's record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mscrobot.app.feasibility import lab_warnings
from mscrobot.app.labs import _check_probe
from mscrobot.app.runs import create_run
from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.lab.config import lab_from_text, shipped_labs
from mscrobot.lab.protocols import DeviceFaultError, LabRefusalError, TransientDeviceError
from mscrobot.lab.stirrer.emulator import Emulator, FaultPlan
from mscrobot.lab.stirrer.ika import IkaStirrer
from mscrobot.lab.stirrer.profiles import StirrerProfile
from mscrobot.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[3]
Make = Callable[..., tuple[Emulator, str]]
Driver = Callable[..., IkaStirrer]


def test_open_switches_off_a_heater_left_on(emulator: Make, driver: Driver) -> None:
    emu, url = emulator("tcp")
    emu.device.heating = True  # an earlier user left the plate heating
    d = driver(url, keepalive=False)
    d.open()
    assert not emu.device.heating
    assert emu.received[:4] == ["IN_NAME", "RESET", "STOP_1", "OUT_WD1@20"]


def test_every_motor_stop_and_the_close_switch_the_heater_off(
    emulator: Make, driver: Driver
) -> None:
    emu, url = emulator("tcp")
    d = driver(url, keepalive=False)
    d.open()
    d.set_speed(400)
    emu.device.heating = True  # someone presses the heat key mid-run
    mark = len(emu.received)
    d.set_speed(0)
    assert not emu.device.heating and emu.received[mark : mark + 2] == ["STOP_4", "STOP_1"]
    d.set_speed(400)
    emu.device.heating = True
    d.close()
    assert not emu.device.heating and not emu.device.running
    assert emu.received[-3:] == ["STOP_4", "STOP_1", "RESET"]


def test_a_stall_stops_the_heater_with_the_motor(emulator: Make, driver: Driver) -> None:
    emu, url = emulator("tcp", "stall")
    d = driver(url, keepalive=False)
    d.open()
    emu.device.heating = True
    with pytest.raises(DeviceFaultError, match="motor stopped"):
        d.set_speed(900)
    d.speed()  # a query after it: the setters were handled
    assert not emu.device.heating


def test_the_watchdog_trip_switches_the_heater_off_too(profile: StirrerProfile) -> None:
    t = [0.0]
    emu = Emulator(profile, pace=False)
    emu.device.clock = lambda: t[0]
    dev = emu.device
    assert dev.handle("OUT_WD1@20") == "20"
    dev.handle("OUT_SP_1 60")
    dev.handle("START_1")
    t[0] = 10.0
    assert dev.handle("IN_PV_2") == "24.0 2"  # heating at the assumed 0.2 °C/s
    t[0] = 21.0
    dev.handle("IN_PV_2")
    assert dev.error == "Er 2" and not dev.heating
    assert dev.heater_changes[-1] == (20.0, False)  # off when the watchdog ran out


def test_the_probe_is_read_and_its_absence_is_an_error(
    profile: StirrerProfile, driver: Driver
) -> None:
    with_probe = Emulator(profile, pace=False, probe=True)
    without = Emulator(profile, pace=False, faults=FaultPlan())
    try:
        host, port = with_probe.start_tcp()
        assert driver(f"socket://{host}:{port}", keepalive=False).temperature() == 22.0
        host, port = without.start_tcp()
        d = driver(f"socket://{host}:{port}", keepalive=False, retries=1, timeout_s=0.05)
        assert d.plate_temperature() == 22.0
        with pytest.raises(TransientDeviceError, match="IN_PV_1: no reply"):
            d.temperature()
    finally:
        with_probe.stop()
        without.stop()


def test_a_probe_far_from_the_recipe_temperature_is_refused() -> None:
    _check_probe(27.0, 25.0)
    with pytest.raises(
        LabRefusalError,
        match=r"reads 40.0 °C; the recipe asks 25 °C.*does "
        "not heat",
    ):
        _check_probe(40.0, 25.0)


def _ika_lab(probe: bool) -> str:
    text = shipped_labs()["twin"].replace("clock: virtual\n", "")  # a real stirrer: the wall's
    stirrer = (
        "stirrer:\n  backend: ika\n  url: socket://127.0.0.1:4001\n"
        f"  temperature_probe: {'true' if probe else 'false'}\n"
    )
    start = text.index("stirrer:")
    end = text.index("spectrometer:")
    return text[:start] + stirrer + text[end:]


def test_without_a_probe_the_run_says_the_temperature_drives_nothing(tmp_path: Path) -> None:
    source = ROOT / "recipes/cds34-zncl2.yaml"
    recipe = load_recipe(source).recipe
    lab_text = _ika_lab(probe=False)
    lab = lab_from_text(lab_text)
    [warning] = lab_warnings(lab, recipe)
    assert "no temperature probe" in warning and "25 °C drives nothing" in warning
    assert "no temperature probe" not in " ".join(
        lab_warnings(lab_from_text(_ika_lab(True)), recipe)
    )
    assert lab_warnings(lab_from_text(shipped_labs()["twin"]), recipe) == []  # the twin heats
    info = create_run(recipe, source.read_text(), str(source), lab, lab_text, 0, tmp_path)
    journal = Journal(info.path / JOURNAL_NAME)
    try:
        assert f"lab: {warning}" in journal.meta()["warnings"]  # the record, and so the report
    finally:
        journal.close()


def test_a_lab_with_a_probe_reads_it_at_start_and_refuses_a_hot_vial(
    profile: StirrerProfile,
) -> None:
    from mscrobot.app.labs import assemble_lab

    recipe = load_recipe(ROOT / "recipes/cds34-zncl2.yaml").recipe
    emu = Emulator(profile, pace=False, probe=True)
    host, port = emu.start_tcp()
    try:
        text = _ika_lab(probe=True).replace("socket://127.0.0.1:4001", f"socket://{host}:{port}")
        lab = assemble_lab(lab_from_text(text), recipe, 0, None).lab
        lab.close()
        assert "IN_PV_1" in emu.received and not emu.device.heating
        emu.device.plate_c = 40.0  # a plate still hot from the last user
        with pytest.raises(LabRefusalError, match=r"probe reads 40\.0 °C"):
            assemble_lab(lab_from_text(text), recipe, 0, None)
        assert not emu.device.running and not emu.device.heating  # closed again, motor off
    finally:
        emu.stop()
