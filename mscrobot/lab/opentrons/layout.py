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

from typing import TYPE_CHECKING, Any

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


#: The tag mscrobot's labware definitions carry when their geometry is assumed, not measured.
ASSUMED_TAG = "mscrobot:assumed-geometry"
ASSUMED_WARNING = "assumed geometry: measure it before a real run"


def same_slot(a: str, b: str, robot: str) -> bool:
    """Whether ``a`` and ``b`` name one slot of ``robot`` ("1" and "D1" do)."""
    return a == b or (_place(a, robot) is not None and _place(a, robot) == _place(b, robot))


def slot_loads(config: LabConfig) -> dict[str, str]:
    """The labware load name in each slot the robot loads, as the lab names the slot: the
    deck's positions and the pipettes' tip racks."""
    from mscrobot.lab.opentrons.pipettes import PIPETTES

    loads = slot_labware(config)
    for pc in config.liquid_handler.pipettes.values():
        for slot in pc.tip_slots:
            loads.setdefault(slot, pc.tip_rack or PIPETTES[pc.name].tip_rack)
    return loads


def definition_uri(load_name: str) -> str | None:
    """``namespace/loadName/version``, as Opentrons names a definition (None: no such one)."""
    ref = find_labware(load_name)
    return None if ref is None else f"{ref.namespace}/{ref.load_name}/{ref.version}"


def labware_offsets(config: LabConfig) -> list[dict[str, Any]]:
    """The lab's offsets as the robot takes them in a new run (``labwareOffsets``), each in
    the slot as the deck loads it, so the robot matches it to that load."""
    loads = slot_loads(config)
    robot = config.liquid_handler.robot_type
    out = []
    for o in config.offsets:
        slot = next((s for s in loads if same_slot(s, o.slot, robot)), o.slot)
        out.append({"definitionUri": definition_uri(o.labware), "location": {"slotName": slot},
                    "vector": {"x": o.x, "y": o.y, "z": o.z}})
    return out


def unmeasured(config: LabConfig) -> list[tuple[str, str]]:
    """(slot, load name) of each labware the robot loads whose geometry is assumed (its
    definition's tag) and that the lab gave no offset for in that slot."""
    robot = config.liquid_handler.robot_type
    out = []
    for slot, name in sorted(slot_loads(config).items()):
        ref = find_labware(name)
        tags = [] if ref is None else ref.definition.get("metadata", {}).get("tags") or []
        measured = any(o.labware == name and same_slot(o.slot, slot, robot)
                       for o in config.offsets)
        if ASSUMED_TAG in tags and not measured:
            out.append((slot, name))
    return out


def geometry_warnings(config: LabConfig) -> list[str]:
    """One line per labware of assumed, unmeasured geometry (plan, probe)."""
    return [f"{name} in slot {slot}: {ASSUMED_WARNING} (Labware Position Check, then "
            "`mscrobot lab offsets import`)" for slot, name in unmeasured(config)]


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
