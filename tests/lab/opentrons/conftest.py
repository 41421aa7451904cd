"""One in-process Opentrons engine per robot type and test module: building one is cheap
(~0.1 s) but importing opentrons is not, so the suite pays that once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
OT_LAB = ROOT / "hardware/labs/simulated.yaml"

#: The shipped OT-2 lab moved onto a Flex deck with Flex pipettes.
FLEX_EDITS = {
    "robot_type: OT-2 ": "robot_type: Flex ",
    '{name: p1000_single_gen2, tip_slots: ["10"]}': '{name: p1000_single_flex, tip_slots: ["A1"]}',
    '{name: p300_single_gen2, tip_slots: ["11", "8", "7"]}':
        '{name: p50_single_flex, tip_slots: ["A2", "B1", "B2"]}',
    'slot: "1"': 'slot: "D1"', 'slot: "2"': 'slot: "D2"', 'slot: "5"': 'slot: "C2"',
    'slot: "9"': 'slot: "C1"',
}


@pytest.fixture(scope="session")
def flex_lab_text() -> str:
    """The OT-2 lab file rewritten for a Flex."""
    text = OT_LAB.read_text()
    for old, new in FLEX_EDITS.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def ot2() -> Iterator[object]:
    from mscrobot.lab.opentrons.inprocess import InProcessBackend

    backend = InProcessBackend("OT-2")
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def flex() -> Iterator[object]:
    from mscrobot.lab.opentrons.inprocess import InProcessBackend

    backend = InProcessBackend("Flex")
    yield backend
    backend.close()
