"""The single-channel pipettes a lab may name, with what choosing and driving them needs.

Plain data (no ``opentrons`` import) so lab files are checked without loading the robot's
libraries. The numbers are Opentrons' own for apiLevel >= 2.6 (OT-2) and 2.14 (Flex): a test
loads each pipette into the protocol engine and compares; the HTTP API does not report them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PipetteSpec:
    name: str
    robot: str  # "OT-2" or "Flex"
    min_ul: float
    max_ul: float
    tip_rack: str  # the standard tip rack's load name
    aspirate_ul_s: float
    dispense_ul_s: float
    blowout_ul_s: float
    #: the name the Python Protocol API's load_instrument takes (exported protocols)
    api_name: str = ""

    @property
    def protocol_name(self) -> str:
        return self.api_name or self.name


PIPETTES: dict[str, PipetteSpec] = {
    p.name: p
    for p in (
        PipetteSpec("p20_single_gen2", "OT-2", 1.0, 20.0, "opentrons_96_tiprack_20ul",
                    7.56, 7.56, 7.56),
        PipetteSpec("p300_single_gen2", "OT-2", 20.0, 300.0, "opentrons_96_tiprack_300ul",
                    92.86, 92.86, 92.86),
        PipetteSpec("p1000_single_gen2", "OT-2", 100.0, 1000.0, "opentrons_96_tiprack_1000ul",
                    274.7, 274.7, 274.7),
        PipetteSpec("p50_single_flex", "Flex", 5.0, 50.0, "opentrons_flex_96_tiprack_50ul",
                    35.0, 57.0, 57.0, "flex_1channel_50"),
        PipetteSpec("p1000_single_flex", "Flex", 5.0, 1000.0,
                    "opentrons_flex_96_tiprack_1000ul", 716.0, 716.0, 716.0,
                    "flex_1channel_1000"),
    )
}


def choose(specs: Sequence[PipetteSpec], volume_ul: float, gaps: int, air_gap_ul: float,
           split: bool) -> tuple[int, int] | None:
    """Which of ``specs`` (smallest first) takes ``volume_ul`` with ``gaps`` air gaps, and in
    how many equal parts: the smallest that takes it in one go; with ``split``, else the
    largest in as few parts as its tips hold. None: no pipette can."""
    need = volume_ul + gaps * air_gap_ul
    for i, spec in enumerate(specs):
        if volume_ul >= spec.min_ul and need <= spec.max_ul:
            return i, 1
    if not specs:
        return None
    big = specs[-1]
    room = big.max_ul - gaps * air_gap_ul
    if split and room > 0:
        n = math.ceil(volume_ul / room)
        if volume_ul / n >= big.min_ul:
            return len(specs) - 1, n
    return None
