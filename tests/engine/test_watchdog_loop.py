"""The IKA watchdog lives on the engine's own loop: a real-time wait keeps it refreshed, and a
step that hangs (here a spectrometer read that never returns in time) lets the device trip it,
switching motor and heater off by itself. No background thread holds it off."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mscrobot.engine.journal import Journal
from mscrobot.engine.runner import Engine
from mscrobot.engine.states import RunState
from mscrobot.lab.clock import WallClock
from mscrobot.lab.protocols import Lab
from mscrobot.lab.stirrer.emulator import Emulator
from mscrobot.lab.stirrer.ika import IkaStirrer
from mscrobot.lab.stirrer.profiles import load_profile
from mscrobot.procedure.plan import PlannedStep, PlanResult
from mscrobot.procedure.steps import Measure, Stir, Wait
from mscrobot.spectra.types import Spectrum

SPEED = 20.0  # OUT_WD1@20 → the device trips 1 s of wall time after the last refresh (the
#              wait's loop wakes every WAKE_S = 0.5 s: a real watchdog's m is ≥ 20 s)
WAIT_S = 2.5  # 2.5 watchdog periods: only refreshes from the wait's loop keep it alive
HANG_S = 1.5


class _HangingSpectrometer:
    """A read that blocks the engine's thread for HANG_S (a hung device call); it notes what
    the stirrer emulator says just before and just after."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.before: tuple[str | None, float] | None = None
        self.after: tuple[str | None, float, bool] | None = None

    def reference(self, op_id: str, blank: str) -> tuple[Spectrum, Spectrum]:
        raise AssertionError("not used")

    def measure(self, op_id: str, integration_ms: float) -> Spectrum:
        dev = self.emulator.device
        with dev.lock:
            dev.advance()
            self.before = (dev.error, dev.actual)
        time.sleep(HANG_S)
        with dev.lock:
            dev.advance()
            self.after = (dev.error, dev.actual, dev.heating)
        wl = np.linspace(200.0, 800.0, 16)
        return Spectrum(wl, np.full(16, 1000.0), integration_ms, 1, 65535.0, {"kind": "sample"})


class _Plan:
    def steps(self):  # type: ignore[no-untyped-def]
        yield PlannedStep(Stir(500.0))
        yield PlannedStep(Wait(WAIT_S, "stirring"))
        yield PlannedStep(Measure("nonpolar", "nonpolar", 10.0))
        return PlanResult("finished")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator(load_profile("ika-rct-basic"), speed=SPEED, pace=False)
    emu.start_tcp()
    yield emu
    emu.stop()


@pytest.mark.slow
def test_a_hung_engine_lets_the_stirrer_watchdog_trip(emulator: Emulator, tmp_path: Path) -> None:
    stirrer = IkaStirrer(
        f"socket://{emulator.address}",
        load_profile("ika-rct-basic"),
        speedup=SPEED,
        watchdog_s=20,
        timeout_s=0.3,
        backoff_s=0.01,
    )
    stirrer.open()
    emulator.device.heating = True  # switched on behind our back: the watchdog takes it too
    spectrometer = _HangingSpectrometer(emulator)
    lab = Lab(
        "watchdog",
        WallClock(tmp_path / "clock.jsonl"),
        None,  # type: ignore[arg-type]
        stirrer,
        spectrometer,
        closers=[stirrer.close],
        keepalives=[stirrer.refresh],
    )
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        end = Engine(journal, lab, _Plan(), "r").run()
    finally:
        lab.close()
        journal.close()
    assert end.state == RunState.COMPLETED
    assert stirrer.refreshes >= 4  # the wait's loop refreshed it
    assert spectrometer.before is not None and spectrometer.after is not None
    error, rpm = spectrometer.before
    assert error is None and abs(rpm - 500.0) <= 20  # alive through 3 periods of waiting
    error, rpm, heating = spectrometer.after
    assert error == "Er 2" and not heating  # the hang tripped it: heater off
    assert rpm < 500.0 - 100  # and the motor coasting down


def test_without_the_loop_nothing_refreshes_the_watchdog() -> None:
    fast = 50.0  # m = 0.4 s of wall time
    emulator = Emulator(load_profile("ika-rct-basic"), speed=fast, pace=False)
    emulator.start_tcp()
    stirrer = IkaStirrer(
        f"socket://{emulator.address}",
        load_profile("ika-rct-basic"),
        speedup=fast,
        watchdog_s=20,
        timeout_s=0.3,
        backoff_s=0.01,
    )
    try:
        stirrer.open()
        stirrer.set_speed(500.0)
        time.sleep(0.8)  # 2 × m, and no one calls refresh()
        with emulator.device.lock:
            emulator.device.advance()
            assert emulator.device.error == "Er 2"
        assert emulator.received.count("OUT_WD1@20") == 1  # armed at open, never again
    finally:
        stirrer.close()
        emulator.stop()
