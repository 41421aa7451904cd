"""Stirrer fixtures: emulators served from this process (fast, fault API) or as real processes
(``mscrobot emulate stirrer``), and drivers tuned for emulated time."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mscrobot.lab.stirrer.emulator import Emulator, FaultPlan
from mscrobot.lab.stirrer.ika import IkaStirrer
from mscrobot.lab.stirrer.profiles import StirrerProfile, load_profile

ROOT = Path(__file__).resolve().parents[3]
SPEED = 20.0    # emulated seconds per wall second in most tests


@pytest.fixture(scope="session")
def profile() -> StirrerProfile:
    return load_profile("ika-rct-basic")


@pytest.fixture
def emulator(profile: StirrerProfile) -> Iterator[Callable[..., tuple[Emulator, str]]]:
    """``make(transport='tcp', faults='', pace=False, speed=SPEED)`` → (emulator, driver URL)."""
    started: list[Emulator] = []

    def make(transport: str = "tcp", faults: str = "", pace: bool = False,
             speed: float = SPEED) -> tuple[Emulator, str]:
        emu = Emulator(profile, speed=speed, pace=pace, faults=FaultPlan.parse(faults))
        started.append(emu)
        if transport == "pty":
            return emu, emu.start_pty()
        host, port = emu.start_tcp()
        return emu, f"socket://{host}:{port}"

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def driver(profile: StirrerProfile) -> Iterator[Callable[..., IkaStirrer]]:
    """``make(url, **options)``: a driver for an emulator at SPEED, closed after the test."""
    made: list[IkaStirrer] = []

    def make(url: str, **options: object) -> IkaStirrer:
        settings: dict[str, object] = {"speedup": SPEED, "timeout_s": 0.3, "backoff_s": 0.01,
                                       "watchdog_s": 20}
        settings.update(options)
        d = IkaStirrer(url, profile, **settings)  # type: ignore[arg-type]
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


def start_process(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``mscrobot emulate stirrer ARGS`` as a real process; returns it and its first line."""
    proc = subprocess.Popen([sys.executable, "-m", "mscrobot.cli", "emulate", "stirrer", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    if not first:
        proc.kill()
        raise AssertionError(f"emulator did not start: {proc.stderr.read()}")  # type: ignore
    return proc, first


def stop_process(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def assert_no_blind_setter_repeats(received: list[str]) -> None:
    """Between two sends of the same setter there is a query that reads back what it set."""
    readback = {"OUT_SP_4": "IN_SP_4", "START_4": "IN_PV_4", "STOP_4": "IN_PV_4"}
    last: dict[str, int] = {}
    for i, command in enumerate(received):
        head = command.split(" ")[0]
        if head in readback:
            if head in last:
                between = received[last[head] + 1:i]
                assert readback[head] in between, (command, received)
            last[head] = i
