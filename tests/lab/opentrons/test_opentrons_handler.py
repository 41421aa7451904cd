"""The Opentrons liquid handler on the simulated lab: every example recipe's dry run goes
through Opentrons' engine without changing what the twin does; refusals are clean errors
before anything moves; ``status_of`` answers from the robot's command record."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mscrobot.app.dryrun import simulate
from mscrobot.app.labs import build_lab
from mscrobot.engine.journal import Journal
from mscrobot.engine.runner import Engine, RunEnd
from mscrobot.engine.states import RunState
from mscrobot.lab.config import LabConfig, lab_from_text, load_lab
from mscrobot.lab.opentrons import commands as c
from mscrobot.lab.opentrons.handler import OpentronsLiquidHandler
from mscrobot.lab.protocols import DeviceFaultError, Lab, LabRefusalError
from mscrobot.procedure.plan import ExchangePlan
from mscrobot.recipe.loader import load_recipe
from mscrobot.recipe.models import Recipe
from tests.examples import example_recipes

ROOT = Path(__file__).resolve().parents[3]
OT_LAB = ROOT / "hardware/labs/simulated.yaml"
RECIPES = example_recipes()
REFERENCE = ROOT / "recipes/cds34-zncl2.yaml"


def _dry_run(recipe: Recipe, config: LabConfig) -> tuple[RunEnd, Lab]:
    lab = build_lab(config, recipe, 0, None)
    journal = Journal(Path(":memory:"))
    try:
        return Engine(journal, lab, ExchangePlan(recipe), "t").run(), lab
    finally:
        journal.close()


def _check_every_operation_went_through_opentrons(lab: Lab) -> int:
    handler = lab.liquid_handler
    assert isinstance(handler, OpentronsLiquidHandler)
    assert set(handler.ops) == handler.world.done_ops  # the twin did nothing Opentrons did not
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
    end, lab = _dry_run(recipe, load_lab(OT_LAB)[0])
    try:
        assert end.state != RunState.FAILED, end.reason
        assert (end.lab_t, end.steps) == (plain.time_s, plain.steps)
        sent = _check_every_operation_went_through_opentrons(lab)
        kinds = {r.command_type for r in lab.liquid_handler.backend.commands()}  # type: ignore[attr-defined]
        assert sent > 0 and {"pickUpTip", "aspirate", "dispense", "blowout", "airGapInPlace",
                             "dropTipInPlace"} <= kinds
    finally:
        lab.close()


def test_the_reference_recipe_on_a_flex(flex_lab_text: str) -> None:
    recipe = load_recipe(REFERENCE).recipe
    end, lab = _dry_run(recipe, lab_from_text(flex_lab_text))
    try:
        assert end.state == RunState.COMPLETED, end.reason
        assert lab.liquid_handler.backend.robot_type == "OT-3 Standard"  # type: ignore[attr-defined]
        _check_every_operation_went_through_opentrons(lab)
    finally:
        lab.close()


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
def lab() -> Iterator[Lab]:
    lab = build_lab(load_lab(OT_LAB)[0], load_recipe(REFERENCE).recipe, 0, None)
    yield lab
    lab.close()


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


def test_a_volume_beyond_the_tip_is_refused_by_opentrons(lab: Lab) -> None:
    """With the small pipette's range misstated, Opentrons' own check refuses the aspirate."""
    h = _handler(lab)
    small = h.deck.pipettes[0]
    small.spec = dataclasses.replace(small.spec, max_ul=1000.0)
    with pytest.raises(LabRefusalError, match=r"aspirate failed: .*400"):
        h.dispense("op-2", "hexane_stock", "reaction", 400.0, "nonpolar")
    assert h.status_of("op-2") == "not_done" and h.world.vessels["reaction"].volume_ul == 0


def test_a_failure_after_liquid_moved_is_a_device_fault(lab: Lab) -> None:
    h = _handler(lab)
    small = h.deck.pipettes[0]
    small.spec = dataclasses.replace(small.spec, max_ul=1000.0)
    with pytest.raises(DeviceFaultError, match=r"airGapInPlace failed: .*liquid had already"):
        h.dispense("op-3", "hexane_stock", "reaction", 295.0, "nonpolar")
    assert h.status_of("op-3") == "unknown"  # the tip holds hexane: ask the operator
    assert h.world.vessels["reaction"].volume_ul == 0  # the twin was never told
    # the next operation first drops the tip the failed one left on
    small.spec = dataclasses.replace(small.spec, max_ul=300.0)
    h.dispense("op-4", "hexane_stock", "reaction", 200.0, "nonpolar")
    assert h.status_of("op-4") == "done"


def test_the_twin_still_refuses_first(lab: Lab) -> None:
    h = _handler(lab)
    with pytest.raises(LabRefusalError, match="holds no two-phase mixture"):
        h.sample("op-5", "reaction", "polar", 20.0)
    with pytest.raises(LabRefusalError, match="would overflow"):
        h.dispense("op-6", "salt_stock", "reaction", 7000.0, "polar")
    assert h.command_ids("op-5") == h.command_ids("op-6") == []


def test_status_of_comes_from_the_robot_then_the_twin(lab: Lab) -> None:
    h = _handler(lab)
    h.dispense("op-7", "salt_stock", "reaction", 1500.0, "polar")
    ids = h.command_ids("op-7")
    records: list[Any] = [h.backend.status(i) for i in ids]
    assert [r.command_type for r in records][:2] == ["pickUpTip", "aspirate"]
    assert all(r.status == "succeeded" for r in records) and h.status_of("op-7") == "done"
    # an operation this robot never saw (a run resumed in a new process): the twin answers
    assert h.status_of("other-process/3") == "not_done"
    h.twin.world.done_ops.add("other-process/3")
    assert h.status_of("other-process/3") == "done"


def test_sampling_draws_at_the_twins_height_and_through_an_air_gap(lab: Lab) -> None:
    h = _handler(lab)
    h.dispense("d1", "salt_stock", "reaction", 1500.0, "polar")
    h.dispense("d2", "cluster_stock", "reaction", 1500.0, "nonpolar")
    expected = h.world.sampling_height_mm("polar", 20.0)
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
    middle = h.world.sampling_height_mm("polar", 0.0)
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
