"""The Opentrons liquid handler: on the simulated lab every example recipe's dry run goes
through Opentrons' engine without changing what the twin does, and the handler's own tracker
holds the world's numbers; with no World at all (Opentrons' engine and the tracker only) the
tracker refuses before anything is sent, gives the tip heights and changes only once every
command succeeded, and its log rebuilds it after a crash; refusals are clean errors before
anything moves; ``status_of`` answers from the handler's and the robot's record."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mscrobot.app.dryrun import simulate
from mscrobot.app.labs import BuiltLab, assemble_lab, build_lab, start_tracker
from mscrobot.engine.journal import Journal
from mscrobot.engine.runner import Engine, RunEnd
from mscrobot.engine.states import RunState
from mscrobot.lab.config import LabConfig, lab_from_text, load_lab
from mscrobot.lab.opentrons import commands as c
from mscrobot.lab.opentrons.handler import OpentronsLiquidHandler, open_opentrons
from mscrobot.lab.opentrons.labware import find_labware, well_area_mm2, well_depth_mm
from mscrobot.lab.protocols import DeviceFaultError, Lab, LabRefusalError
from mscrobot.lab.simulated.world import World
from mscrobot.procedure.plan import ExchangePlan
from mscrobot.recipe.loader import load_recipe
from mscrobot.recipe.models import Recipe
from tests.examples import example_recipes

ROOT = Path(__file__).resolve().parents[3]
OT_LAB = ROOT / "hardware/labs/simulated.yaml"
RECIPES = example_recipes()
REFERENCE = ROOT / "recipes/cds34-zncl2.yaml"


def _dry_run(recipe: Recipe, config: LabConfig) -> tuple[RunEnd, BuiltLab]:
    built = assemble_lab(config, recipe, 0, None)
    journal = Journal(Path(":memory:"))
    try:
        return Engine(journal, built.lab, ExchangePlan(recipe), "t").run(), built
    finally:
        journal.close()


def _check_every_operation_went_through_opentrons(built: BuiltLab) -> int:
    handler, world = built.lab.liquid_handler, built.world
    assert isinstance(handler, OpentronsLiquidHandler) and world is not None
    assert set(handler.ops) == world.done_ops  # the twin did nothing Opentrons did not
    # the handler's own tracker holds the world's numbers, to the last bit
    assert handler.volumes() == world.tracker.volumes()
    assert handler.tracker.layers == world.layers
    sent = 0
    for op_id in handler.ops:
        ids = handler.command_ids(op_id)
        assert all(handler.backend.status(i).status == "succeeded" for i in ids)  # type: ignore[union-attr]
        assert handler.status_of(op_id) == "done"
        sent += len(ids)
    return sent


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_example_dry_run_is_checked_by_opentrons_and_unchanged(path: Path) -> None:
    recipe = load_recipe(path).recipe
    plain = simulate(recipe, seed=0)
    end, built = _dry_run(recipe, load_lab(OT_LAB)[0])
    lab = built.lab
    try:
        assert end.state != RunState.FAILED, end.reason
        assert (end.lab_t, end.steps) == (plain.time_s, plain.steps)
        sent = _check_every_operation_went_through_opentrons(built)
        kinds = {r.command_type for r in lab.liquid_handler.backend.commands()}  # type: ignore[attr-defined]
        assert sent > 0 and {"pickUpTip", "aspirate", "dispense", "blowout", "airGapInPlace",
                             "dropTipInPlace"} <= kinds
    finally:
        lab.close()


def test_the_reference_recipe_on_a_flex(flex_lab_text: str) -> None:
    recipe = load_recipe(REFERENCE).recipe
    end, built = _dry_run(recipe, lab_from_text(flex_lab_text))
    try:
        assert end.state == RunState.COMPLETED, end.reason
        assert built.lab.liquid_handler.backend.robot_type == "OT-3 Standard"  # type: ignore[attr-defined]
        _check_every_operation_went_through_opentrons(built)
    finally:
        built.lab.close()


def test_the_journal_keeps_the_robots_command_ids_with_each_operation() -> None:
    recipe = load_recipe(REFERENCE).recipe
    lab = build_lab(load_lab(OT_LAB)[0], recipe, 0, None)
    journal = Journal(Path(":memory:"))
    try:
        assert Engine(journal, lab, ExchangePlan(recipe), "t").run().state == RunState.COMPLETED
        handler = _handler(lab)
        moves = [s for s in journal.steps()
                 if s.kind in ("dispense", "sample", "transfer", "discard")]
        assert moves and all(s.outcome is not None for s in moves)
        for s in moves:
            assert s.outcome["robot_commands"] == handler.command_ids(f"t/{s.n}")  # type: ignore[index]
        assert all(s.outcome["robot_commands"] for s in moves if s.kind != "discard")  # type: ignore[index]
    finally:
        journal.close()
        lab.close()


def test_an_injected_transient_failure_sends_the_robot_nothing() -> None:
    """The retried operation's commands reach Opentrons once: the busy robot started nothing."""
    recipe = load_recipe(REFERENCE).recipe
    text = load_lab(OT_LAB)[1].replace("sample_time: 20 s",
                                       "sample_time: 20 s\n  transient_failures: 2")
    lab = build_lab(lab_from_text(text), recipe, 0, None)
    journal = Journal(Path(":memory:"))
    try:
        assert Engine(journal, lab, ExchangePlan(recipe), "t").run().state == RunState.COMPLETED
        first = journal.steps()[0]
        assert first.kind == "sample" and first.attempts == 2 and first.status == "done"
        sent = lab.liquid_handler.backend.commands()  # type: ignore[attr-defined]
        picks = [r for r in sent if r.command_type == "pickUpTip"]
        assert len(picks) == sum(1 for op in _handler(lab).ops.values() if op.planned)
        # no tip wasted on the failed attempts: the first draw took the first tip
        assert picks[0].params["wellName"] == "A1"
        assert len(_handler(lab).command_ids("t/1")) == _handler(lab).ops["t/1"].planned
    finally:
        journal.close()
        lab.close()


@pytest.fixture
def built() -> Iterator[BuiltLab]:
    built = assemble_lab(load_lab(OT_LAB)[0], load_recipe(REFERENCE).recipe, 0, None)
    yield built
    built.lab.close()


@pytest.fixture
def lab(built: BuiltLab) -> Lab:
    return built.lab


def _world(built: BuiltLab) -> World:
    assert built.world is not None
    return built.world


def _handler(lab: Lab) -> OpentronsLiquidHandler:
    assert isinstance(lab.liquid_handler, OpentronsLiquidHandler)
    return lab.liquid_handler


def test_a_tip_opentrons_will_not_pick_up_is_a_refusal_before_anything_moves(lab: Lab) -> None:
    h = _handler(lab)
    big = h.deck.pipettes[-1]
    rack, _ = big.tips[-1]
    behind_our_back = h.backend.send(c.pick_up_tip(big.id, rack, "H12"))
    assert behind_our_back.status == "succeeded"
    before = h.volumes()
    with pytest.raises(LabRefusalError, match="pickUpTip failed: TipAttachedError"):
        h.dispense("op-1", "salt_stock", "reaction", 1500.0, "polar")
    assert h.volumes() == before and h.status_of("op-1") == "not_done"
    assert len(h.command_ids("op-1")) == 1


def test_a_volume_beyond_the_tip_is_refused_by_opentrons(built: BuiltLab) -> None:
    """With the small pipette's range misstated, Opentrons' own check refuses the aspirate."""
    h = _handler(built.lab)
    small = h.deck.pipettes[0]
    small.spec = dataclasses.replace(small.spec, max_ul=1000.0)
    with pytest.raises(LabRefusalError, match=r"aspirate failed: .*400"):
        h.dispense("op-2", "hexane_stock", "reaction", 400.0, "nonpolar")
    assert h.status_of("op-2") == "not_done"
    assert h.volumes()["reaction"] == _world(built).vessels["reaction"].volume_ul == 0


def test_a_failure_after_liquid_moved_is_a_device_fault(built: BuiltLab) -> None:
    h = _handler(built.lab)
    small = h.deck.pipettes[0]
    small.spec = dataclasses.replace(small.spec, max_ul=1000.0)
    with pytest.raises(DeviceFaultError, match=r"airGapInPlace failed: .*liquid had already"):
        h.dispense("op-3", "hexane_stock", "reaction", 295.0, "nonpolar")
    assert h.status_of("op-3") == "unknown"  # the tip holds hexane: ask the operator
    # neither the tracker nor the twin was told
    assert h.volumes()["reaction"] == _world(built).vessels["reaction"].volume_ul == 0
    # the next operation first drops the tip the failed one left on
    small.spec = dataclasses.replace(small.spec, max_ul=300.0)
    h.dispense("op-4", "hexane_stock", "reaction", 200.0, "nonpolar")
    assert h.status_of("op-4") == "done"


def test_the_tracker_refuses_before_anything_is_sent(lab: Lab) -> None:
    h = _handler(lab)
    with pytest.raises(LabRefusalError, match="holds no two-phase mixture"):
        h.sample("op-5", "reaction", "polar", 20.0)
    with pytest.raises(LabRefusalError, match="would overflow"):
        h.dispense("op-6", "salt_stock", "reaction", 7000.0, "polar")
    assert h.command_ids("op-5") == h.command_ids("op-6") == []


def test_status_of_comes_from_the_handlers_and_the_robots_record(lab: Lab) -> None:
    h = _handler(lab)
    h.dispense("op-7", "salt_stock", "reaction", 1500.0, "polar")
    ids = h.command_ids("op-7")
    records: list[Any] = [h.backend.status(i) for i in ids]
    assert [r.command_type for r in records][:2] == ["pickUpTip", "aspirate"]
    assert all(r.status == "succeeded" for r in records) and h.status_of("op-7") == "done"
    assert h.ops["op-7"].done
    assert h.status_of("never-sent/3") == "not_done"  # no start line: nothing was sent


def test_sampling_draws_at_the_tracked_height_and_through_an_air_gap(lab: Lab) -> None:
    h = _handler(lab)
    h.dispense("d1", "salt_stock", "reaction", 1500.0, "polar")
    h.dispense("d2", "cluster_stock", "reaction", 1500.0, "nonpolar")
    expected = h.tracker.sampling_height_mm("polar", 20.0)
    height = h.sample("s1", "reaction", "polar", 20.0)
    cmds = [h.backend.status(i) for i in h.command_ids("s1")]
    kinds = [r.command_type for r in cmds]  # type: ignore[union-attr]
    first_aspirate = kinds.index("aspirate")
    assert "airGapInPlace" in kinds[:first_aspirate]  # air in the tip before the alkane
    assert height == pytest.approx(expected)
    assert kinds[-2:] == ["moveToAddressableAreaForDropTip", "dropTipInPlace"]
    assert h.volumes()["flow_cell"] == 20.0


def test_a_returned_polar_sample_goes_back_under_the_alkane_and_a_flush_to_waste(
        lab: Lab) -> None:
    h = _handler(lab)
    h.dispense("d1", "salt_stock", "reaction", 1500.0, "polar")
    h.dispense("d2", "cluster_stock", "reaction", 1500.0, "nonpolar")
    h.sample("s1", "reaction", "polar", 20.0)
    middle = h.tracker.sampling_height_mm("polar", 0.0)
    h.return_sample("r1", "reaction", "polar", 20.0)
    back: list[Any] = [h.backend.status(i) for i in h.command_ids("r1")]
    assert all(r.status == "succeeded" for r in back)
    aspirate = next(r for r in back if r.command_type == "aspirate")
    dispense = next(r for r in back if r.command_type == "dispense")
    assert aspirate.params["labwareId"] == h.deck.places["flow_cell"].labware_id
    assert dispense.params["labwareId"] == h.deck.places["reaction"].labware_id
    assert dispense.params["wellLocation"]["origin"] == "bottom"
    assert dispense.params["wellLocation"]["offset"]["z"] == pytest.approx(middle, abs=1e-3)
    assert h.volumes()["flow_cell"] == 0.0 and h.volumes()["reaction"] == 3000.0
    h.sample("s2", "reaction", "nonpolar", 20.0)
    h.flush_cell("f1")
    to_waste = [r for r in (h.backend.status(i) for i in h.command_ids("f1"))
                if r is not None and r.command_type == "dispense"]
    assert [r.params["labwareId"] for r in to_waste] == [h.deck.places["waste"].labware_id]
    assert h.volumes()["flow_cell"] == 0.0 and h.volumes()["waste"] == 20.0
    assert h.status_of("f1") == "done"
    h.flush_cell("f2")  # an empty cell: nothing for the robot to do, and still done
    assert h.command_ids("f2") == [] and h.status_of("f2") == "done"


# --- with no World: Opentrons' engine in process and the handler's own tracker ---------------

#: the reference recipe's 8 mL vial (14.5 mm inside): µL / VIAL_AREA = mm of liquid
VIAL_AREA = math.pi * (14.5 / 2) ** 2


def _bare(state_dir: Path | None = None) -> OpentronsLiquidHandler:
    """The simulated lab's robot with no follower: nothing but Opentrons and the tracker."""
    config = load_lab(OT_LAB)[0]
    return open_opentrons(config, start_tracker(config, load_recipe(REFERENCE).recipe),
                          state_dir)


@pytest.fixture
def bare() -> Iterator[OpentronsLiquidHandler]:
    h = _bare()
    yield h
    h.close()


def _aspirates(h: OpentronsLiquidHandler, op_id: str) -> list[Any]:
    return [r for r in (h.backend.status(i) for i in h.command_ids(op_id))
            if r is not None and r.command_type == "aspirate"]


def test_the_handler_needs_no_world_and_refuses_before_sending(
        bare: OpentronsLiquidHandler) -> None:
    h = bare
    assert h.follower is None
    start = h.volumes()
    sent = len(h.backend.commands())  # type: ignore[attr-defined]
    with pytest.raises(LabRefusalError, match=r"reaction would overflow: 0 \+ 7000 µL > 6400"):
        h.dispense("o1", "salt_stock", "reaction", 7000.0, "polar")
    with pytest.raises(LabRefusalError, match="ola_stock holds 5000 µL; 5200 µL needed"):
        h.dispense("o2", "ola_stock", "blank_vial", 5200.0, "nonpolar")
    with pytest.raises(LabRefusalError, match="holds no two-phase mixture"):
        h.sample("o3", "reaction", "polar", 20.0)
    with pytest.raises(LabRefusalError, match="hexane_stock holds no polar liquid"):
        h.sample("o4", "hexane_stock", "polar", 20.0)
    h.dispense("d1", "salt_stock", "reaction", 1500.0, "polar")
    h.dispense("d2", "cluster_stock", "reaction", 300.0, "nonpolar")  # 1.8 mm of alkane
    before = (h.volumes(), dict(h.tracker.layers))
    with pytest.raises(LabRefusalError, match=r"nonpolar layer .* too thin"):
        h.sample("o5", "reaction", "nonpolar", 20.0)
    assert (h.volumes(), h.tracker.layers) == before
    assert all(h.command_ids(op) == [] and h.status_of(op) == "not_done"
               for op in ("o1", "o2", "o3", "o4", "o5"))
    assert len(h.backend.commands()) == sent + len(h.command_ids("d1")) + len(  # type: ignore[attr-defined]
        h.command_ids("d2"))
    assert start["reaction"] == 0 and h.volumes()["reaction"] == 1800.0


def test_heights_follow_the_tracked_layers_and_stocks(bare: OpentronsLiquidHandler) -> None:
    h = bare
    h.dispense("d1", "salt_stock", "reaction", 1500.0, "polar")
    h.dispense("d2", "cluster_stock", "reaction", 1500.0, "nonpolar")
    assert h.tracker.layers == {"polar": 1500.0, "nonpolar": 1500.0}
    # the p1000 takes 1500 µL in two 750 µL draws, each 2 mm under what the stock keeps
    stock = find_labware("mscrobot_6_vialrack_20ml")
    assert stock is not None
    area, depth = well_area_mm2(stock, "A1"), well_depth_mm(stock, "A1")
    z = [r.params["wellLocation"]["offset"]["z"] for r in _aspirates(h, "d1")]
    assert z == pytest.approx([min(depth, left / area - 2.0) for left in (14250.0, 13500.0)],
                              abs=1e-3)  # Opentrons keeps offsets to the µm
    h.dispense("d3", "salt_stock", "reaction", 300.0, "polar")  # the stock's surface went down
    (later,) = _aspirates(h, "d3")
    assert later.params["wellLocation"]["offset"]["z"] == pytest.approx(
        min(depth, 13200.0 / area - 2.0), abs=1e-3)
    polar = h.sample("s1", "reaction", "polar", 20.0)
    assert polar == pytest.approx(1800.0 / VIAL_AREA / 2)  # the middle of the polar layer
    (drawn,) = _aspirates(h, "s1")
    assert drawn.params["wellLocation"] == {"origin": "bottom", "offset": {
        "x": 0.0, "y": 0.0, "z": pytest.approx(polar, abs=1e-3)}, "volumeOffset": 0.0}
    h.flush_cell("f1")
    alkane = h.sample("s2", "reaction", "nonpolar", 20.0)
    assert alkane == pytest.approx((1780.0 + 1500.0 / 2) / VIAL_AREA)  # above the interface
    h.flush_cell("f2")
    assert h.sample("s3", "reaction", "polar", 20.0) == pytest.approx(1780.0 / VIAL_AREA / 2)
    assert h.volumes()["waste"] == 40.0 and h.volumes()["flow_cell"] == 20.0


def test_the_tracker_changes_only_after_every_command_succeeded(
        bare: OpentronsLiquidHandler) -> None:
    h = bare
    big, small = h.deck.pipettes[-1], h.deck.pipettes[0]
    rack, _ = big.tips[-1]
    assert h.backend.send(c.pick_up_tip(big.id, rack, "H12")).status == "succeeded"
    start = (h.volumes(), dict(h.tracker.layers))
    with pytest.raises(LabRefusalError, match="pickUpTip failed"):  # the first command
        h.dispense("x1", "salt_stock", "reaction", 1500.0, "polar")
    assert (h.volumes(), h.tracker.layers) == start and h.status_of("x1") == "not_done"
    small.spec = dataclasses.replace(small.spec, max_ul=1000.0)
    with pytest.raises(DeviceFaultError, match="liquid had already moved"):  # mid-operation
        h.dispense("x2", "hexane_stock", "reaction", 295.0, "nonpolar")
    assert (h.volumes(), h.tracker.layers) == start and h.status_of("x2") == "unknown"
    small.spec = dataclasses.replace(small.spec, max_ul=300.0)
    h.dispense("x3", "hexane_stock", "reaction", 200.0, "nonpolar")  # drops the tip x2 left
    assert h.volumes()["reaction"] == 200.0 and h.volumes()["hexane_stock"] == 14800.0
    assert h.tracker.layers == {"polar": 0.0, "nonpolar": 200.0}


def test_the_log_rebuilds_the_tracker_after_a_crash(tmp_path: Path) -> None:
    h = _bare(tmp_path)
    h.dispense("run/1", "salt_stock", "reaction", 1500.0, "polar")
    h.dispense("run/2", "cluster_stock", "reaction", 1500.0, "nonpolar")
    h.sample("run/3", "reaction", "polar", 20.0)
    left = (h.volumes(), dict(h.tracker.layers), h.tracker.cell_phase)
    h.log.close()  # killed: the log stays as written, the in-process robot dies with it
    h.backend.close()
    again = _bare(tmp_path)
    try:
        assert (again.volumes(), again.tracker.layers, again.tracker.cell_phase) == left
        assert again.tracker.mixed
        # the robot that did them is gone; the handler's own record says they were done
        assert not again.backend.knows_run(again.ops["run/1"].run_id)
        assert [again.status_of(f"run/{i}") for i in (1, 2, 3, 4)] == ["done"] * 3 + ["not_done"]
        again.return_sample("run/4", "reaction", "polar", 20.0)  # the cell's sample is known
        assert again.volumes()["flow_cell"] == 0.0 and again.tracker.layers["polar"] == 1500.0
    finally:
        again.close()
