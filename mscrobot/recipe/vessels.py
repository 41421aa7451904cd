"""Reaction vessels a recipe can name, with the volume they may be filled to.

Kept small and explicit: a lab config maps the reaction vial of one of these types to labware on
its deck (deck roles, the positions a lab provides, are ``procedure.plan.DECK_ROLES``).
The fill limit leaves headspace for a vortex at full stir rate (assumed 80 % of nominal).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VialType:
    name: str
    nominal_ml: float
    max_fill_ml: float
    inner_diameter_mm: float
    note: str


VIAL_TYPES: dict[str, VialType] = {
    v.name: v
    for v in (
        VialType("vial-2mL", 2.0, 1.6, 10.0, "2 mL screw-cap vial (12 x 32 mm)"),
        VialType("vial-4mL", 4.0, 3.2, 12.5, "4 mL screw-cap vial (15 x 45 mm)"),
        VialType("vial-8mL", 8.0, 6.4, 14.5, "8 mL screw-cap vial (17 x 60 mm)"),
        VialType("vial-20mL", 20.0, 16.0, 25.0, "20 mL scintillation vial (28 x 61 mm)"),
    )
}

DEFAULT_VESSEL = "vial-8mL"

#: Tip placement in a vial (assumed): clear of the bottom, clear of the interface. The liquid
#: handlers place tips by these (``mscrobot.lab.tracking``); the plan reads them to know how
#: much further down a polar sample can be drawn.
BOTTOM_CLEARANCE_MM = 1.0
INTERFACE_MARGIN_MM = 1.5
