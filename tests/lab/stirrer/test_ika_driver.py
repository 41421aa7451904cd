"""The IKA driver against ``mscrobot emulate stirrer`` running as a real process, over a real
pty and over TCP (slow): identify, ramp, read-back, stop, faults from the command line; and
against the emulator served from this process: the device's watchdog, options, profiles."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SPEED, start_process, stop_process
from typer.testing import CliRunner

from mscrobot.cli import app
from mscrobot.lab.protocols import DeviceFaultError, LabRefusalError, Stirrer
from mscrobot.lab.stirrer.emulator import Emulator
from mscrobot.lab.stirrer.ika import IkaStirrer, open_serial
from mscrobot.lab.stirrer.namur import frame
from mscrobot.lab.stirrer.profiles import StirrerProfile, load_profile
from mscrobot.yamldoc import DocumentError


def _ramp_up_and_stop(d: IkaStirrer, profile: StirrerProfile) -> None:
    assert isinstance(d, Stirrer)
    assert d.open() == "RCT basic"
    assert abs(d.set_speed(750) - 750) <= profile.tolerance_rpm
    assert d.setpoint() == 750
    assert abs(d.set_speed(300) - 300) <= profile.tolerance_rpm
    assert abs(d.speed() - 300) <= profile.tolerance_rpm
    assert d.set_speed(0) <= profile.tolerance_rpm


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_driver_ramps_reads_back_and_stops_over_a_real_process(
        transport: str, driver: Callable[..., IkaStirrer], profile: StirrerProfile) -> None:
    args = ["--pty"] if transport == "pty" else ["--tcp", "0"]
    proc, address = start_process(*args, "--speed", str(SPEED))
    try:
        url = address if transport == "pty" else f"socket://{address}"
        if transport == "pty":
            assert Path(address).exists()
        else:
            assert address.startswith("127.0.0.1:")
        _ramp_up_and_stop(driver(url), profile)
    finally:
        stop_process(proc)
    assert proc.returncode == 0


def test_watchdog_stops_the_motor_when_the_driver_goes_silent(
        emulator: Callable[..., tuple[Emulator, str]],
        driver: Callable[..., IkaStirrer]) -> None:
    speed = 50.0                      # OUT_WD1@20 → 0.4 s of wall time
    _, url = emulator("tcp", speed=speed)
    d = driver(url, speedup=speed)
    d.open()
    d.set_speed(500)
    end = time.monotonic() + 1.0      # 2.5 × m: a loop calling refresh() holds it off
    while time.monotonic() < end:
        d.refresh()
        time.sleep(0.05)
    assert d.refreshes >= 5           # sent every m/4 s, not on every call
    assert abs(d.speed() - 500) <= 20
    d.close(stop_motor=False)         # the computer goes silent, motor still on
    time.sleep(1.0)
    raw = open_serial(url, 0.5)
    try:
        raw.write(frame("IN_PV_4"))
        assert raw.read_until(b"\r\n") == b"0.0 4 \r\n"   # Er 2: motor off by itself
    finally:
        raw.close()
    again = driver(url, speedup=speed, keepalive=False)
    with pytest.raises(DeviceFaultError, match=r"not accepted.*Er 2"):
        again.set_speed(400)          # setters ignored until RESET
    again.reset()
    assert abs(again.set_speed(400) - 400) <= 20


@pytest.mark.slow
def test_faults_given_on_the_command_line_reach_the_driver(
        driver: Callable[..., IkaStirrer]) -> None:
    proc, address = start_process("--tcp", "0", "--speed", str(SPEED), "--no-pace",
                                  "--faults", "stall,garbage:IN_NAME")
    try:
        d = driver(f"socket://{address}")
        assert d.open() == "RCT basic"            # one garbled reply, retried
        with pytest.raises(DeviceFaultError, match="magnet decoupled"):
            d.set_speed(600)
    finally:
        stop_process(proc)


def test_bad_emulator_options_exit_with_a_message() -> None:
    result = CliRunner().invoke(app, ["emulate", "stirrer", "--pty", "--faults", "disconnect"])
    assert result.exit_code == 2 and "needs --tcp" in result.stderr


def test_speeds_outside_the_profile_are_refused_before_anything_is_sent(
        profile: StirrerProfile) -> None:
    def no_port(url: str, timeout: float) -> object:
        raise AssertionError("nothing may be sent")

    d = IkaStirrer("loop://", profile, port_factory=no_port)  # type: ignore[arg-type]
    for rpm in (10, 1600, -5):
        with pytest.raises(LabRefusalError, match="outside 50–1500 rpm"):
            d.set_speed(rpm)


def test_shipped_profiles_load_and_bad_ones_name_the_line(tmp_path: Path) -> None:
    assert load_profile("ika-c-mag-hs7").min_rpm == 100
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: X\nmin_rpm: 1500\nmax_rpm: 100\nramp_rpm_per_s: 1\n"
                   "tolerance_rpm: 5\nwatchdog_s: 5\n")
    with pytest.raises(DocumentError) as err:
        load_profile(bad)
    text = str(err.value)
    assert "bad.yaml:7" in text and "watchdog_s" in text


def test_a_url_pyserial_does_not_know_is_a_clear_fault(profile: StirrerProfile) -> None:
    with pytest.raises(DeviceFaultError, match="cannot open"):
        IkaStirrer("nosuch://x", profile).identify()
