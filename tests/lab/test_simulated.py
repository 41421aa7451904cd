"""The simulated lab's world: phases where they belong, refusals before acting, and a log that
rebuilds the world after a crash (a torn last line is an action that never happened)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mscrobot.lab.build import build_lab
from mscrobot.lab.config import load_lab
from mscrobot.lab.protocols import LabRefusalError
from mscrobot.lab.simulated.bench import Bench
from mscrobot.lab.simulated.world import World
from mscrobot.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = load_recipe(ROOT / "recipes/cds34-zncl2.yaml").recipe


def _world(tmp: Path | None = None) -> World:
    lab = build_lab(load_lab()[0], REFERENCE, 3, tmp)
    world = lab.liquid_handler.world  # type: ignore[attr-defined]
    assert isinstance(world, World)
    return world


def test_alkane_is_sampled_above_the_interface_and_the_polar_phase_below() -> None:
    world = _world()
    world.dispense("a", "salt_stock", "reaction", 1500.0, "polar")
    world.dispense("b", "cluster_stock", "reaction", 1500.0, "nonpolar")
    area = 3.141592653589793 * (14.5 / 2) ** 2  # vial-8mL
    interface = 1500.0 / area
    polar = world.sample("c", "reaction", "polar", 20.0)
    world.flush("d")
    alkane = world.sample("e", "reaction", "nonpolar", 20.0)
    assert polar < interface - 1.5 < interface + 1.5 < alkane < 3000.0 / area
    world.flush("f")
    # heights follow the tracked volumes: after more draws the polar tip sits lower
    for i in range(20):
        world.sample(f"p{i}", "reaction", "polar", 20.0)
        world.flush(f"q{i}")
    assert world.sample("g", "reaction", "polar", 20.0) < polar


def test_a_layer_too_thin_is_refused_not_sampled_at_the_interface() -> None:
    world = _world()
    world.dispense("a", "salt_stock", "reaction", 1500.0, "polar")
    world.dispense("b", "cluster_stock", "reaction", 300.0, "nonpolar")  # 1.8 mm of alkane
    before = dict(world.layers)
    with pytest.raises(LabRefusalError, match="too thin"):
        world.sample("c", "reaction", "nonpolar", 20.0)
    assert world.layers == before and world.vessels["flow_cell"].volume_ul == 0.0


def test_overfilling_the_flow_cell_is_refused_before_anything_moves() -> None:
    bench = Bench(REFERENCE, seed=1)
    bench.world.sample("x", "reaction", "polar", 20.0)
    bench.world.sample("y", "reaction", "polar", 20.0)
    bench.world.sample("z", "reaction", "polar", 20.0)
    with pytest.raises(LabRefusalError, match="flow_cell would overflow"):
        bench.world.sample("w", "reaction", "polar", 20.0)
    assert bench.world.vessels["flow_cell"].volume_ul == 60.0


def test_the_log_rebuilds_the_world_and_a_torn_last_line_never_happened(tmp_path: Path) -> None:
    world = _world(tmp_path)
    world.dispense("a", "salt_stock", "reaction", 1500.0, "polar")
    world.dispense("b", "cluster_stock", "reaction", 1500.0, "nonpolar")
    world.stir(1000.0)
    world.advance(300.0)
    world.stir(0.0)
    world.sample("c", "reaction", "polar", 20.0)
    read = world.read("polar_salt", 0.05)
    truth = world.truth()
    world.close()
    log = tmp_path / "world.jsonl"
    with log.open("a") as f:  # a crash in the middle of writing the next action
        f.write(json.dumps({"op": "dispense", "id": "torn"})[:20])
    again = _world(tmp_path)
    assert again.truth() == truth
    assert "torn" not in again.done_ops and "c" in again.done_ops
    # reading the same cell load again gives the same spectrum (keyed noise)
    assert (again.read("polar_salt", 0.05).sample.counts == read.sample.counts).all()
    again.flush("d")  # new lines start cleanly after the torn tail was dropped
    again.close()
    assert [json.loads(x)["op"] for x in log.read_text().splitlines()][-1] == "flush"
