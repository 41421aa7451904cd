"""Commands and the in-process engine: Opentrons' models and Opentrons' engine judge them."""

from __future__ import annotations

import pytest

from mscrobot.lab.opentrons import commands as c
from mscrobot.lab.opentrons.backend import CommandBackend
from mscrobot.lab.opentrons.pipettes import PIPETTES


def test_builders_make_commands_opentrons_accepts() -> None:
    for cmd in (c.home(), c.load_pipette("p300_single_gen2", "right"),
                c.load_labware("mscrobot_flow_cell_inlet", "custom_beta", 1, "5"),
                c.pick_up_tip("p", "l", "A1"), c.aspirate("p", "l", "A1", 20, 92.86, "bottom", 3),
                c.air_gap_in_place("p", 10, 92.86), c.prepare_to_aspirate("p"),
                c.move_to_well("p", "l", "A1", "top", 2), c.blowout("p", "l", "A1", 92, "top", -1),
                c.dispense("p", "l", "A1", 30, 92.86, "top", -1),
                c.move_to_trash("p", "fixedTrash"), c.drop_tip_in_place("p")):
        assert c.validate(cmd).intent.value == "setup"


def test_a_malformed_command_is_refused_with_the_field() -> None:
    with pytest.raises(c.InvalidCommandError, match=r"loadPipette: .*pipetteName"):
        c.validate(c.load_pipette("p9000_single", "left"))
    negative = c.aspirate("p", "l", "A1", 20, 92.86, "bottom", 1)
    negative["params"]["volume"] = -5
    with pytest.raises(c.InvalidCommandError, match=r"aspirate: params\.volume: .*greater than"):
        c.validate(negative)


def _pipette(backend: CommandBackend, name: str, mount: str, rack_slot: str) -> tuple[str, str]:
    pip = backend.send(c.load_pipette(name, mount))
    rack = backend.send(c.load_labware(PIPETTES[name].tip_rack, "opentrons", 1, rack_slot))
    assert pip.status == rack.status == "succeeded", (pip, rack)
    return pip.result["pipetteId"], rack.result["labwareId"]


def test_refusals_come_back_as_failed_commands_with_opentrons_text(ot2: CommandBackend) -> None:
    pid, rack = _pipette(ot2, "p300_single_gen2", "right", "3")
    res = ot2.send(c.load_labware("agilent_1_reservoir_290ml", "opentrons", 1, "6"))
    trough = res.result["labwareId"]
    no_tip = ot2.send(c.aspirate(pid, trough, "A1", 20, 92.86, "bottom", 2))
    assert no_tip.status == "failed" and no_tip.error_type == "TipNotAttachedError"
    assert ot2.send(c.pick_up_tip(pid, rack, "A1")).status == "succeeded"
    too_much = ot2.send(c.aspirate(pid, trough, "A1", 400, 92.86, "bottom", 2))
    assert too_much.status == "failed" and "400" in (too_much.error or "")
    occupied = ot2.send(c.load_labware("agilent_1_reservoir_290ml", "opentrons", 1, "6"))
    assert occupied.status == "failed" and occupied.error_type == "LocationIsOccupiedError"
    missing = ot2.send(c.aspirate(pid, "no-such-labware", "A1", 20, 92.86, "bottom", 2))
    assert missing.status == "failed" and "no-such-labware" in (missing.error or "")
    # re-read by id: the engine kept each outcome
    assert ot2.status(too_much.id) == too_much and ot2.status(occupied.id) == occupied
    assert ot2.status("never-sent") is None
    for cmd in (c.move_to_trash(pid, "fixedTrash"), c.drop_tip_in_place(pid)):
        assert ot2.send(cmd).status == "succeeded"


@pytest.mark.parametrize("name", sorted(PIPETTES))
def test_pipette_table_is_what_the_engine_loads(name: str, ot2: CommandBackend,
                                                 flex: CommandBackend) -> None:
    """The numbers the handler chooses pipettes by are Opentrons' own."""
    spec = PIPETTES[name]
    backend = flex if spec.robot == "Flex" else ot2
    slot = {"OT-2": "4", "Flex": "B3"}[spec.robot]
    pid, rack = _pipette(backend, name, "left", slot)
    view = backend._orchestrator._protocol_engine.state_view.pipettes  # type: ignore[attr-defined]
    assert backend.send(c.pick_up_tip(pid, rack, "A1")).status == "succeeded"
    rates = view.get_flow_rates(pid)
    latest = {k: v[max(v, key=lambda s: tuple(map(int, s.split("."))))]
              for k, v in (("a", rates.default_aspirate), ("d", rates.default_dispense),
                           ("b", rates.default_blow_out))}
    assert (view.get_minimum_volume(pid), view.get_maximum_volume(pid)) == (spec.min_ul,
                                                                            spec.max_ul)
    assert latest == {"a": spec.aspirate_ul_s, "d": spec.dispense_ul_s, "b": spec.blowout_ul_s}
    trash = {"OT-2": "fixedTrash", "Flex": "movableTrashA3"}[spec.robot]
    for cmd in (c.move_to_trash(pid, trash), c.drop_tip_in_place(pid)):
        assert backend.send(cmd).status == "succeeded"
    # free the slot and the mount for the next pipette
    rack_cmd = c.command("moveLabware", labwareId=rack, newLocation="offDeck",
                         strategy="manualMoveWithoutPause")
    assert backend.send(rack_cmd).status == "succeeded"


def test_a_stopped_in_process_robot_refuses_cleanly() -> None:
    from mscrobot.lab.opentrons.inprocess import InProcessBackend
    from mscrobot.lab.protocols import DeviceFaultError

    robot = InProcessBackend("OT-2")
    try:
        robot.stop()
        with pytest.raises(DeviceFaultError, match="takes no home now: RunStoppedError"):
            robot.send(c.home())
    finally:
        robot.close()
