"""The wall clock of a lab with nothing simulated: its start outlives the process, so a resumed
run's clock goes on (the time it was down included) and a wait keeps its deadline."""

from __future__ import annotations

from pathlib import Path

from mscrobot.app.labs import assemble_lab, start_vessels
from mscrobot.lab.clock import LOG_NAME, WallClock
from mscrobot.lab.config import lab_from_text, shipped_labs
from mscrobot.lab.simulated.devices import VirtualClock, WorldOnWallClock
from mscrobot.lab.simulated.world import World, WorldSpec
from mscrobot.recipe.loader import load_recipe
from mscrobot.storage.eventlog import EventLog

REFERENCE = Path(__file__).resolve().parents[2] / "recipes" / "cds34-zncl2.yaml"


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


def test_a_speedup_runs_lab_time_faster_than_the_wall_by_one_factor() -> None:
    wall = Time(0.0)
    clock = WallClock(None, wall.now, wall.sleep, speedup=20.0)
    wall.t = 3.0
    assert clock.now() == 60.0
    clock.sleep_until(300.0)  # a 4-minute stir: 12 s of wall time
    assert wall.slept == [12.0] and clock.now() == 300.0


def test_the_world_beside_emulators_keeps_the_wall_clocks_time(tmp_path: Path) -> None:
    """On a lab of emulators with a simulated vial (``WorldOnWallClock``) the world is brought
    to the wall clock's time (sped up by the lab's one speedup) whenever the run reads the
    time or waits, so the vial stirs for as long as the emulated stirrer really ran; an
    action the world times itself (a dispense's 15 s) lasts as long on the wall clock."""
    recipe = load_recipe(REFERENCE).recipe
    config = lab_from_text(shipped_labs()["twin"].replace("clock: virtual",
                                                          "clock: wall\nspeedup: 20"))
    log = tmp_path / "world.jsonl"
    world = World(WorldSpec(recipe, 0, start_vessels(config, recipe)), log)
    wall = Time(1000.0)
    clock = WorldOnWallClock(world, WallClock(None, wall.now, wall.sleep, speedup=20.0))
    assert clock.now() == 0.0 and world.t == 0.0
    wall.t += 3.0  # three real seconds: a minute of the lab's
    assert world.t == 0.0 and clock.now() == 60.0 and world.t == 60.0
    world.stir(1000.0)
    clock.sleep_until(300.0)
    assert wall.slept == [12.0] and world.t == clock.now() == 300.0
    world.dispense("op/1", "salt_stock", "reaction", 1500.0, "polar")
    assert world.t == 315.0
    wall.t += 0.25  # the emulated robot answered in 5 s of lab time: the rest is waited out
    assert clock.now() == 315.0 and wall.slept == [12.0, 0.5] and world.t == 315.0
    wall.t += 1.0  # a robot slower than the world's timing: nothing more is waited
    assert clock.now() == 335.0 and world.t == 335.0 and wall.slept == [12.0, 0.5]
    clock.sleep_until(400.0)
    assert world.t == clock.now() == 400.0
    world.close()
    assert [(e["op"], e["t"]) for e in EventLog.events(log)] == [
        ("advance", 60.0), ("stir", 60.0), ("advance", 300.0), ("dispense", 315.0),
        ("advance", 335.0), ("advance", 400.0)]


def test_a_lab_keeps_the_worlds_virtual_time_only_where_everything_is_simulated() -> None:
    recipe = load_recipe(REFERENCE).recipe
    twin = shipped_labs()["twin"]
    virtual = assemble_lab(lab_from_text(twin), recipe, 0, None).lab
    wall = assemble_lab(lab_from_text(twin.replace("clock: virtual", "clock: wall\nspeedup: 20")),
                        recipe, 0, None).lab
    try:
        assert isinstance(virtual.clock, VirtualClock) and not virtual.clock.real_time
        assert isinstance(wall.clock, WorldOnWallClock) and wall.clock.real_time
        assert isinstance(wall.clock.wall, WallClock) and wall.clock.wall.speedup == 20
    finally:
        virtual.close()
        wall.close()
