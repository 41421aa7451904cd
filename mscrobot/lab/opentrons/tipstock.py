"""The tips in a robot's racks, across runs and campaigns: the lab's inventory, on disk.

A robot cannot say which tips its racks still hold: an OT-2 senses no missed pick-up (it
draws liquid into a bare nozzle) and a Flex stops. So every tip taken is counted here, per
rack slot, before its pick-up is sent (a crash can waste a tip, never reuse one), in one JSON
file per robot that outlives run folders: each rack is used from where the last run left it,
and a rack is full again only when the operator says it was refilled (``refill``, from
``mscrobot lab tips --refill SLOT``). A rack the inventory has never seen counts as full (a
lab's first run), and one whose labware changed must be refilled before a run uses it: what
it holds is not known. The file is replaced whole on each change (written beside, then
renamed), so it is never torn; one process drives a robot at a time (the lab lock).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mscrobot.lab.protocols import LabRefusalError

if TYPE_CHECKING:
    from mscrobot.lab.config import LabConfig


@dataclass(frozen=True)
class Rack:
    slot: str
    labware: str
    capacity: int
    used: int
    refilled: str | None = None

    @property
    def left(self) -> int:
        return self.capacity - self.used


class TipStock:
    """The racks of one robot (``path``: its inventory file) and the tips each has used."""

    def __init__(self, path: Path, robot: str) -> None:
        self.path, self.robot = path, robot
        self.racks: dict[str, Rack] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.racks = {
                    slot: Rack(
                        slot, r["labware"], int(r["capacity"]), int(r["used"]), r.get("refilled")
                    )
                    for slot, r in data.get("racks", {}).items()
                }
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise LabRefusalError(
                    f"the tip inventory {path} cannot be read ({e}): check "
                    "the racks and refill each (`mscrobot lab tips "
                    "--refill SLOT`)"
                ) from None

    def rack(self, slot: str, labware: str, capacity: int) -> Rack:
        """The rack in ``slot`` as the inventory knows it (full if it never saw it); refused
        if the inventory knew another labware there."""
        known = self.racks.get(slot)
        if known is None:
            return Rack(slot, labware, capacity, 0)
        if known.labware != labware:
            raise LabRefusalError(
                f"tip rack slot {slot}: the inventory knows a {known.labware} "
                f"there, the lab says {labware}: put a full rack in and run "
                f"`mscrobot lab tips --refill {slot}`"
            )
        return known

    def take(self, slot: str, labware: str, capacity: int) -> None:
        """One more tip taken from the rack in ``slot`` (saved before the pick-up is sent)."""
        rack = self.rack(slot, labware, capacity)
        self.racks[slot] = Rack(slot, labware, capacity, rack.used + 1, rack.refilled)
        self._save()

    def refill(self, slot: str, labware: str | None = None, capacity: int | None = None) -> Rack:
        """The operator refilled the rack in ``slot``: none of its tips used."""
        known = self.racks.get(slot)
        if known is None and (labware is None or capacity is None):
            raise LabRefusalError(f"no tip rack in slot {slot} in this inventory")
        labware = labware or (known.labware if known else "")
        capacity = capacity or (known.capacity if known else 0)
        rack = Rack(slot, labware, capacity, 0, time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        self.racks[slot] = rack
        self._save()
        return rack

    def _save(self) -> None:
        data: dict[str, Any] = {
            "robot": self.robot,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "racks": {
                s: {
                    "labware": r.labware,
                    "capacity": r.capacity,
                    "used": r.used,
                    "refilled": r.refilled,
                }
                for s, r in sorted(self.racks.items())
            },
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = self.path.with_suffix(".tmp")
        with open(fresh, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(fresh, self.path)


def racks_of(stock: TipStock | None, config: LabConfig) -> dict[str, list[Rack]]:
    """Each mount's tip racks as the inventory has them (``stock`` None: all full, as on a
    robot in process whose every run starts with fresh racks)."""
    from mscrobot.lab.opentrons.labware import find_labware
    from mscrobot.lab.opentrons.pipettes import PIPETTES

    out: dict[str, list[Rack]] = {}
    for mount, pc in config.liquid_handler.pipettes.items():
        name = pc.tip_rack or PIPETTES[pc.name].tip_rack
        ref = find_labware(name)
        capacity = 0 if ref is None else len(ref.definition["wells"])
        out[mount] = [
            Rack(slot, name, capacity, 0) if stock is None else stock.rack(slot, name, capacity)
            for slot in pc.tip_slots
        ]
    return out
