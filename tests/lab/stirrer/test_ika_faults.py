"""Every fault the emulator injects ends in recovery or in a clear fault, and no setter is ever
re-sent without a read-back in between (emulator served from this process, real TCP/pty)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from conftest import assert_no_blind_setter_repeats

from mscrobot.lab.protocols import DeviceFaultError, TransientDeviceError
from mscrobot.lab.stirrer.emulator import Emulator, FaultPlan
from mscrobot.lab.stirrer.ika import IkaStirrer, open_stirrer

Make = Callable[..., tuple[Emulator, str]]
Driver = Callable[..., IkaStirrer]


@pytest.mark.parametrize(("transport", "faults"), [
    ("tcp", "timeout:IN_SP_4"),
    ("tcp", "timeout:IN_PV_4@2x2"),
    ("tcp", "garbage:IN_PV_4x2"),
    ("pty", "garbage:IN_SP_4"),
    ("tcp", "partial:IN_PV_4"),
    ("pty", "partial:IN_SP_4x2"),
    ("tcp", "disconnect:IN_SP_4"),
    ("tcp", "disconnect:IN_PV_4@3"),
    ("tcp", "garbage:OUT_WD1,timeout:IN_NAME"),
])
def test_transient_faults_are_retried_and_the_setter_sent_once(
        emulator: Make, driver: Driver, transport: str, faults: str) -> None:
    emu, url = emulator(transport, faults)
    d = driver(url, keepalive=False)
    d.open()
    assert abs(d.set_speed(800) - 800) <= 20
    assert [c for c in emu.received if c.startswith("OUT_SP_4")] == ["OUT_SP_4 800"]
    assert emu.received.count("START_4") == 1
    assert_no_blind_setter_repeats(emu.received)


def test_a_setpoint_read_back_wrong_once_is_re_sent_after_the_read_back(
        emulator: Make, driver: Driver) -> None:
    emu, url = emulator("tcp", "wrong_readback")
    d = driver(url, keepalive=False)
    d.open()
    assert abs(d.set_speed(700) - 700) <= 20
    sent = [c for c in emu.received if c.split(" ")[0] in ("OUT_SP_4", "IN_SP_4")]
    assert sent == ["OUT_SP_4 700", "IN_SP_4", "OUT_SP_4 700", "IN_SP_4"]
    assert_no_blind_setter_repeats(emu.received)


def test_a_setpoint_never_read_back_is_a_device_fault(emulator: Make, driver: Driver) -> None:
    emu, url = emulator("tcp", "wrong_readback:IN_SP_4x*")
    d = driver(url, keepalive=False, retries=2)
    d.open()
    with pytest.raises(DeviceFaultError, match="set speed 700 rpm not accepted") as err:
        d.set_speed(700)
    assert "\n" not in str(err.value)
    assert [c for c in emu.received if c.startswith("OUT_SP_4")] == ["OUT_SP_4 700"] * 3
    assert "START_4" not in emu.received
    assert_no_blind_setter_repeats(emu.received)


def test_a_stalled_motor_is_reported_and_stopped(emulator: Make, driver: Driver) -> None:
    emu, url = emulator("tcp", "stall")
    d = driver(url, keepalive=False)
    d.open()
    with pytest.raises(DeviceFaultError, match=r"motor at 0 rpm, not 900 rpm.*magnet "
                       r"decoupled.*motor stopped") as err:
        d.set_speed(900)
    assert "\n" not in str(err.value)
    assert emu.received.count("START_4") == 1
    assert d.speed() == 0                    # a query after it: the STOP_4 has been handled
    assert emu.received[-3:] == ["STOP_4", "STOP_1", "IN_PV_4"] and not emu.device.running
    assert not emu.device.heating
    assert_no_blind_setter_repeats(emu.received)


def test_a_motor_stalling_later_is_caught_at_the_next_change(emulator: Make,
                                                            driver: Driver) -> None:
    emu, url = emulator("tcp")
    d = driver(url, keepalive=False)
    d.open()
    d.set_speed(400)
    emu.faults.add("stall")                  # magnet decouples while running
    with pytest.raises(DeviceFaultError, match="magnet decoupled"):
        d.set_speed(1200)
    emu.faults.clear()
    assert abs(d.set_speed(400) - 400) <= 20


def test_a_silent_device_is_a_transient_error_after_bounded_retries(
        emulator: Make, driver: Driver) -> None:
    emu, url = emulator("tcp", "timeout:IN_PV_4x*")
    d = driver(url, keepalive=False, timeout_s=0.05, retries=2)
    d.open()
    with pytest.raises(TransientDeviceError, match=r"IN_PV_4: no reply .*3 tries: 3 silent"):
        d.speed()
    assert emu.received.count("IN_PV_4") == 3


def test_a_device_answering_only_garbage_is_a_fault(emulator: Make, driver: Driver) -> None:
    _, url = emulator("pty", "garbage:IN_NAMEx*")
    d = driver(url, keepalive=False, retries=1)
    with pytest.raises(DeviceFaultError, match=r"every reply garbled.*7E1"):
        d.open()


def test_an_unreachable_device_is_a_transient_error(driver: Driver) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = driver(f"socket://127.0.0.1:{port}", retries=1, keepalive=False)
    with pytest.raises(TransientDeviceError, match="connection lost"):
        d.identify()


def test_the_keepalive_re_sends_the_watchdog_and_survives_garbled_echoes(
        emulator: Make, driver: Driver) -> None:
    emu, url = emulator("tcp", "garbage:OUT_WD1@2x2")
    d = driver(url, speedup=20.0)             # re-sent every 0.25 s; m is 1 s of wall time
    d.open()
    d.set_speed(300)                          # (at 100x the ramp's allowance is 39 ms of wall
    deadline = time.monotonic() + 10          # time: a loaded machine missed it)
    while emu.received.count("OUT_WD1@20") < 5 and time.monotonic() < deadline:
        d.refresh()                           # what the engine's loop does
        time.sleep(0.05)
    assert emu.received.count("OUT_WD1@20") >= 5
    assert emu.device.error is None


def test_open_stirrer_loads_the_profile_and_arms_the_watchdog(emulator: Make) -> None:
    emu, url = emulator("tcp")
    d = open_stirrer(url, "ika-c-mag-hs7", speedup=20.0, watchdog_s=30, keepalive=False)
    try:
        assert d.profile.min_rpm == 100
        assert emu.received == ["IN_NAME", "RESET", "STOP_1", "OUT_WD1@30"]
    finally:
        d.close()


def test_fault_specs_parse_and_reject_nonsense() -> None:
    plan = FaultPlan.parse("timeout:IN_PV_4@2x3, stall ,garbagex*")
    assert [(f.kind, f.command, f.at, f.count) for f in plan.faults] == [
        ("timeout", "IN_PV_4", 2, 3), ("stall", None, 1, 1), ("garbage", None, 1, None)]
    assert plan.stall
    with pytest.raises(ValueError, match="bad fault 'melt'"):
        FaultPlan.parse("melt")
