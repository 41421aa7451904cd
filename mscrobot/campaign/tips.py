"""Tips a campaign took, per pipette, against what its racks hold on the one robot.

On the ``simulated`` lab each run's liquid handling runs on its own in-process Opentrons engine
with full racks, so no run is refused for tips another took; a lab has one robot and one set of
racks. Each run's Opentrons operation log (``opentrons.jsonl`` in its folder) keeps the tips it
took from each mount's racks; the campaign sums them and says how many times the racks must be
refilled. Counting is pure; ``tips_taken`` reads one run folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from mscrobot.lab.config import LabConfig
from mscrobot.lab.opentrons.labware import find_labware
from mscrobot.lab.opentrons.oplog import LOG_NAME, OpLog
from mscrobot.lab.opentrons.pipettes import PIPETTES


@dataclass(frozen=True)
class TipUse:
    """One pipette: the tips each run took (by run index) and what its racks hold."""

    mount: str
    pipette: str
    per_run: tuple[int, ...]
    racks_hold: int

    @property
    def total(self) -> int:
        return sum(self.per_run)

    @property
    def refills(self) -> int:
        """Times every rack of this pipette must be refilled during the campaign."""
        return max(0, math.ceil(self.total / self.racks_hold) - 1) if self.racks_hold else 0


def tips_taken(run_folder: Path) -> dict[str, int]:
    """Tips each mount took in this run (empty: the lab has no Opentrons liquid handler)."""
    path = run_folder / LOG_NAME
    return dict(OpLog.read(path).tips) if path.exists() else {}


def tip_sheet(lab: LabConfig, per_run: list[dict[str, int]]) -> list[TipUse]:
    """Per pipette of the lab, the campaign's tips against its racks (pure)."""
    rows = []
    for mount, pc in lab.liquid_handler.pipettes.items():
        rack = find_labware(pc.tip_rack or PIPETTES[pc.name].tip_rack)
        per_rack = len(rack.definition["wells"]) if rack is not None else 0
        rows.append(TipUse(mount, pc.name, tuple(tips.get(mount, 0) for tips in per_run),
                           per_rack * len(pc.tip_slots)))
    return rows
