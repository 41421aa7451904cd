"""The wall clock of a lab with nothing simulated: its start outlives the process, so a resumed
run's clock goes on (the time it was down included) and a wait keeps its deadline."""

from __future__ import annotations

from pathlib import Path

from mscrobot.lab.clock import LOG_NAME, WallClock


class Time:
    """Wall time that moves only when told (or slept through)."""

    def __init__(self, t: float) -> None:
        self.t = t
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


def test_the_clock_goes_on_from_the_first_start_across_processes(tmp_path: Path) -> None:
    wall = Time(1000.0)
    clock = WallClock(tmp_path / LOG_NAME, wall.now, wall.sleep)
    assert clock.now() == 0.0
    clock.sleep_until(30.0)
    assert wall.slept == [30.0] and clock.now() == 30.0
    clock.sleep_until(10.0)  # a deadline already passed: no wait
    assert wall.slept == [30.0]
    clock.close()
    wall.t += 100.0  # the process was down for 100 s
    again = WallClock(tmp_path / LOG_NAME, wall.now, wall.sleep)
    assert again.now() == 130.0
    again.close()
    assert len((tmp_path / LOG_NAME).read_text().splitlines()) == 1


def test_without_a_run_folder_the_clock_starts_at_zero() -> None:
    wall = Time(5.0)
    clock = WallClock(None, wall.now, wall.sleep)
    wall.t = 7.5
    assert clock.now() == 2.5
