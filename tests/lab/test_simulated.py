"""The simulated lab's world: phases where they belong, refusals before acting, and a log that
rebuilds the world after a crash (a torn last line is an action that never happened)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mscrobot.app.bench import Bench
from mscrobot.app.labs import assemble_lab
from mscrobot.lab.config import load_lab
from mscrobot.lab.protocols import LabRefusalError
from mscrobot.lab.simulated.world import OLA_NEAT_MOLAR, World
from mscrobot.recipe.loader import load_recipe
from mscrobot.spectra.correction import to_absorbance

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = load_recipe(ROOT / "recipes/cds34-zncl2.yaml").recipe


def _world(tmp: Path | None = None) -> World:
    world = assemble_lab(load_lab("twin")[0], REFERENCE, 3, tmp).world
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
    read = world.measure(10.0)
    truth = world.truth()
    world.close()
    log = tmp_path / "world.jsonl"
    with log.open("a") as f:  # a crash in the middle of writing the next action
        f.write(json.dumps({"op": "dispense", "id": "torn"})[:20])
    again = _world(tmp_path)
    assert again.truth() == truth
    assert "torn" not in again.done_ops and "c" in again.done_ops
    # reading the same cell load again gives the same spectrum (keyed noise)
    assert (again.measure(10.0).counts == read.counts).all()
    again.flush("d")  # new lines start cleanly after the torn tail was dropped
    again.close()
    assert [json.loads(x)["op"] for x in log.read_text().splitlines()][-1] == "flush"


def test_blanks_come_from_the_stocks_and_read_as_zero_absorbance(tmp_path: Path) -> None:
    world = _world(tmp_path)
    with pytest.raises(LabRefusalError, match="holds no polar liquid"):
        world.sample("p", "hexane_stock", "polar", 20.0)
    world.sample("b", "salt_stock", "polar", 20.0)
    assert world.cell_contents is not None and world.cell_contents.salt_molar == 0.05
    dark, reference = world.reference("polar_salt")
    assert dark.integration_ms == reference.integration_ms
    assert 0.7 * 65535 < float(np.max(reference.counts)) < 0.9 * 65535  # auto-ranged
    sample = world.measure(reference.integration_ms)  # the blank read against itself
    a = to_absorbance(sample, dark, reference)[0]
    window = (sample.wavelengths_nm > 300) & (sample.wavelengths_nm < 600)
    assert abs(float(np.median(a[window]))) < 0.005
    world.flush("f")
    # the OLA blank is mixed in the blank vial and carries OLA at its volume fraction
    world.dispense("h", "hexane_stock", "blank_vial", 245.0, "nonpolar")
    world.dispense("o", "ola_stock", "blank_vial", 5.0, "nonpolar")
    world.sample("s", "blank_vial", "nonpolar", 20.0)
    assert world.cell_contents is not None
    # (less the little the cell carries over from the salt blank before it)
    assert world.cell_contents.ola_molar == pytest.approx(5.0 / 250.0 * OLA_NEAT_MOLAR, rel=0.01)
    assert world.vessels["blank_vial"].volume_ul == pytest.approx(230.0)
