"""Labware definitions a lab names: mscrobot's custom ones (shipped JSON) and Opentrons' own.

Pure JSON reading, no ``opentrons`` import, so the lab check can judge a deck before anything
heavy loads. Custom definitions ship inside the package (a lab works from any directory);
``hardware/labware/`` holds copies to edit, and a test keeps the two equal.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

#: Namespace of the Opentrons labware definitions shipped with opentrons-shared-data.
OPENTRONS_NAMESPACE = "opentrons"


@dataclass(frozen=True)
class LabwareRef:
    """What ``loadLabware`` needs, plus the definition when it is ours (sent to the robot)."""

    load_name: str
    namespace: str
    version: int
    definition: dict[str, Any]

    @property
    def custom(self) -> bool:
        return self.namespace != OPENTRONS_NAMESPACE


@functools.cache
def custom_definitions() -> dict[str, dict[str, Any]]:
    """mscrobot's labware by load name."""
    out = {}
    for entry in resources.files("mscrobot.lab.opentrons").joinpath("labware").iterdir():
        if entry.name.endswith(".json"):
            d = json.loads(entry.read_text(encoding="utf-8"))
            out[d["parameters"]["loadName"]] = d
    return out


def _standard(load_name: str) -> dict[str, Any] | None:
    try:
        base = resources.files("opentrons_shared_data").joinpath(
            "data", "labware", "definitions", "2", load_name)
        versions = sorted(int(p.name.removesuffix(".json")) for p in base.iterdir()
                          if p.name.endswith(".json"))
    except (FileNotFoundError, NotADirectoryError, ModuleNotFoundError):
        return None
    if not versions:
        return None
    return json.loads(base.joinpath("1.json" if 1 in versions else f"{versions[0]}.json")
                      .read_text(encoding="utf-8"))


@functools.cache
def find_labware(load_name: str) -> LabwareRef | None:
    """The labware called ``load_name``: ours first, then Opentrons' (None: neither has it)."""
    d = custom_definitions().get(load_name) or _standard(load_name)
    if d is None:
        return None
    return LabwareRef(load_name, d["namespace"], int(d["version"]), d)


def well_area_mm2(ref: LabwareRef, well: str) -> float:
    """Cross-section of a well, so a volume (µL = mm³) gives a liquid height (mm)."""
    w = ref.definition["wells"][well]
    if w["shape"] == "circular":
        return math.pi * (w["diameter"] / 2.0) ** 2
    return float(w["xDimension"] * w["yDimension"])


def well_depth_mm(ref: LabwareRef, well: str) -> float:
    return float(ref.definition["wells"][well]["depth"])
