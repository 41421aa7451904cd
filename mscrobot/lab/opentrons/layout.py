"""Checks of an Opentrons deck against a recipe, before anything loads (pure: JSON only).

Opentrons itself judges the deck when the labware is loaded, once the run exists, and its
refusal then reads as a device that does not answer; so a slot no robot has is refused here
first. This also catches what Opentrons cannot know: a position whose labware has no such
well, two positions that put different labware in one slot (either robot's name for it),
tip racks on a slot the deck uses, anything on the trash's slot (the OT-2 accepts labware in
slot 12 and fails only at the first tip dropped in the trash, mid-run), and a reaction vial
holder that does not fit the recipe's vessel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mscrobot.lab.opentrons.labware import find_labware
from mscrobot.recipe.vessels import VIAL_TYPES

if TYPE_CHECKING:
    from mscrobot.lab.config import LabConfig

#: How far a holder's well may differ from the recipe vessel's inner diameter (mm).
DIAMETER_TOLERANCE_MM = 0.5
#: The slot the trash takes: the OT-2's fixed trash, the Flex's trash bin (its usual place).
TRASH_SLOT = {"OT-2": "12", "Flex": "A3"}
#: Deck slots by place: Opentrons takes either robot's name for a place on both robots
#: (opentrons.types.DeckSlotName), so "1" and "D1" are one slot.
_PLACES = [("1", "D1"), ("2", "D2"), ("3", "D3"), ("4", "C1"), ("5", "C2"), ("6", "C3"),
           ("7", "B1"), ("8", "B2"), ("9", "B3"), ("10", "A1"), ("11", "A2"), ("12", "A3")]
_SLOTS_SHOWN = {"OT-2": "1-11", "Flex": "A1-D3"}


def _place(slot: str, robot: str) -> str | None:
    """``slot`` in ``robot``'s own naming, or None if no robot has such a slot."""
    for ot2, flex in _PLACES:
        if slot in (ot2, flex):
            return ot2 if robot == "OT-2" else flex
    return None


def slot_labware(config: LabConfig) -> dict[str, str]:
    """The labware load name in each slot the deck positions use."""
    return {pos.slot: pos.labware for pos in config.deck.values()}


def check_deck(config: LabConfig, vessel: str) -> list[str]:
    """Every reason this Opentrons deck cannot hold the recipe (empty: it can)."""
    problems = []
    robot = config.liquid_handler.robot_type
    by_slot: dict[str, str] = {}
    for name, pos in config.deck.items():
        place = _place(pos.slot, robot)
        if place is None:
            problems.append(f"deck.{name}: an {robot} has no slot {pos.slot!r} (slots: "
                            f"{_SLOTS_SHOWN[robot]})")
            continue
        ref = find_labware(pos.labware)
        if ref is None:
            problems.append(f"deck.{name}: no labware {pos.labware!r} (neither mscrobot's nor "
                            "Opentrons')")
            continue
        if pos.well not in ref.definition["wells"]:
            problems.append(f"deck.{name}: {pos.labware} has no well {pos.well}")
        other = by_slot.setdefault(place, pos.labware)
        if other != pos.labware:
            problems.append(f"deck.{name}: slot {pos.slot} holds {other}, not {pos.labware}")
    named = [s for p in config.liquid_handler.pipettes.values() for s in p.tip_slots]
    problems += [f"tip rack slot {s!r}: an {robot} has no such slot (slots: "
                 f"{_SLOTS_SHOWN[robot]})" for s in named if _place(s, robot) is None]
    tip_slots = [place for s in named if (place := _place(s, robot)) is not None]
    problems += [f"tip rack slot {s} is used by the deck" for s in tip_slots if s in by_slot]
    problems += [f"tip rack slot {s} is named twice" for s in sorted(set(tip_slots))
                 if tip_slots.count(s) > 1]
    trash = TRASH_SLOT[robot]
    if trash in by_slot or trash in tip_slots:
        problems.append(f"slot {trash} holds the {robot}'s trash: no labware or tip rack can "
                        "go there")
    reaction = config.deck.get("reaction")
    ref = None if reaction is None else find_labware(reaction.labware)
    if reaction is not None and ref is not None and reaction.well in ref.definition["wells"]:
        well = ref.definition["wells"][reaction.well]
        want = VIAL_TYPES[vessel].inner_diameter_mm
        if abs(well.get("diameter", 0.0) - want) > DIAMETER_TOLERANCE_MM:
            problems.append(f"deck.reaction: {reaction.labware} holds a "
                            f"{well.get('diameter', 0.0):g} mm vial; the recipe's {vessel} is "
                            f"{want:g} mm wide")
    return problems
