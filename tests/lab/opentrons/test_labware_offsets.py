"""Labware offsets: a lab file's ``offsets:`` (validated at file:line), brought over from the
Opentrons App's Labware Position Check (``mscrobot lab offsets import``), sent with each run
the robot creates and applied by it to the labware loaded there (the emulator's run shows
them), kept in the run's log; labware of assumed geometry is named until it is measured, and
a real robot refuses to run on it unless the lab accepts it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mscrobot.app.labs import start_tracker
from mscrobot.app.offsets import import_offsets
from mscrobot.cli.app import app
from mscrobot.lab.config import LabError, lab_from_text
from mscrobot.lab.opentrons.emulator import RobotEmulator, serve
from mscrobot.lab.opentrons.handler import open_opentrons
from mscrobot.lab.opentrons.layout import ASSUMED_WARNING, geometry_warnings, unmeasured
from mscrobot.lab.opentrons.oplog import LOG_NAME, OpLog
from mscrobot.lab.protocols import LabRefusalError
from mscrobot.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[3]
EMULATED_LAB = ROOT / "hardware/labs/opentrons-emulated.yaml"
REFERENCE = ROOT / "recipes/cds34-zncl2.yaml"
#: What Labware Position Check gives for this deck (the shape of the App's offset data and of
#: a run's ``labwareOffsets``): the reaction vial holder, the flow-cell inlet, a tip rack,
#: one for labware this lab does not have, and a later measurement of the holder.
LPC = [
    {
        "definitionUri": "custom_beta/mscrobot_stirrer_vial_8ml/1",
        "location": {"slotName": "1"},
        "vector": {"x": 0.4, "y": -0.6, "z": 1.5},
    },
    {
        "definitionUri": "custom_beta/mscrobot_flow_cell_inlet/1",
        "location": {"slotName": "5"},
        "vector": {"x": -0.2, "y": 0.3, "z": -0.75},
    },
    {
        "definitionUri": "opentrons/opentrons_96_tiprack_300ul/1",
        "location": {"slotName": "11"},
        "vector": {"x": 0.1, "y": 0.0, "z": 0.0},
    },
    {
        "definitionUri": "opentrons/nest_96_wellplate_100ul_pcr_full_skirt/1",
        "location": {"slotName": "3"},
        "vector": {"x": 1.0, "y": 1.0, "z": 1.0},
    },
    {
        "definitionUri": "custom_beta/mscrobot_stirrer_vial_8ml/1",
        "location": {"slotName": "1"},
        "vector": {"x": 0.35, "y": -0.55, "z": 1.45},
    },
]


@pytest.fixture
def robot() -> Iterator[tuple[str, RobotEmulator]]:
    emulator = RobotEmulator("OT-2")
    server = serve(emulator, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", emulator
    finally:
        emulator.settle()
        server.shutdown()
        server.server_close()
        emulator.close()


def _lab_text(url: str = "http://127.0.0.1:31950", extra: str = "") -> str:
    return EMULATED_LAB.read_text().replace("http://127.0.0.1:31950", url) + extra


def _problems(text: str) -> list[str]:
    """Each problem as ``file:line: field: message`` (the column left out)."""
    with pytest.raises(LabError) as e:
        lab_from_text(text, "lab.yaml")
    return [f"{p.source}:{p.line}: {p.path}: {p.message}" for p in e.value.problems]


def test_offsets_are_checked_against_the_deck_at_their_line() -> None:
    text = _lab_text()
    lines = len(text.splitlines())
    wrong = _problems(
        text + "offsets:\n"
        '  - {labware: mscrobot_stirrer_vial_8ml, slot: "1", x: 0.5}\n'
        '  - {labware: mscrobot_flow_cell_inlet, slot: "4", z: 1}\n'
        '  - {labware: mscrobot_stirrer_vial_8ml, slot: "5"}\n'
        '  - {labware: mscrobot_stirrer_vial_8ml, slot: "D1", y: 1}\n'
    )
    assert wrong == [
        f"lab.yaml:{lines + 3}: offsets[1].slot: no labware of this lab is in slot '4' "
        "(slots used: 1, 10, 11, 2, 5, 7, 8, 9)",
        f"lab.yaml:{lines + 4}: offsets[2].labware: slot 5 holds mscrobot_flow_cell_inlet, "
        "not mscrobot_stirrer_vial_8ml",
        f"lab.yaml:{lines + 5}: offsets[3].slot: a second offset for "
        "mscrobot_stirrer_vial_8ml in slot D1",
    ]
    far = _problems(text + 'offsets:\n  - {labware: mscrobot_stirrer_vial_8ml, slot: "1", z: 25}\n')
    assert len(far) == 1 and far[0].startswith(f"lab.yaml:{lines + 2}: offsets[0].z: ")
    assert "20" in far[0]


def test_labware_position_check_offsets_are_imported_into_the_lab_file(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(_lab_text())
    before = lab.read_text()
    lpc = tmp_path / "offsets.json"
    lpc.write_text(json.dumps(LPC))
    result = CliRunner().invoke(app, ["lab", "offsets", "import", str(lpc), "--lab", str(lab)])
    assert result.exit_code == 0, result.output
    assert "3 labware offset(s)" in result.output
    assert (
        "left out: opentrons/nest_96_wellplate_100ul_pcr_full_skirt/1 in slot 3: this "
        "lab loads nothing there"
    ) in result.output
    after = lab.read_text()
    assert after.startswith(before)  # the file as written, comments and all, plus the block
    config = lab_from_text(after)
    assert [(o.labware, o.slot, o.x, o.y, o.z) for o in config.offsets] == [
        ("mscrobot_stirrer_vial_8ml", "1", 0.35, -0.55, 1.45),  # the later measurement
        ("mscrobot_flow_cell_inlet", "5", -0.2, 0.3, -0.75),
        ("opentrons_96_tiprack_300ul", "11", 0.1, 0.0, 0.0),
    ]
    # importing again replaces the block instead of adding a second one
    import_offsets(lab, {"data": {"labwareOffsets": LPC[2:3]}}, "a run")
    again = lab_from_text(lab.read_text())
    assert [(o.labware, o.slot) for o in again.offsets] == [("opentrons_96_tiprack_300ul", "11")]
    assert [line for line in lab.read_text().splitlines() if line.startswith("offsets:")] == [
        "offsets:"
    ]
    bad = tmp_path / "bad.json"
    bad.write_text('[{"definitionUri": "x"}]')
    result = CliRunner().invoke(app, ["lab", "offsets", "import", str(bad), "--lab", str(lab)])
    assert result.exit_code == 2 and "offset 0 has no definitionUri" in result.output


#: The App's "labware offset data" after Labware Position Check (its Jupyter snippet, as
#: Opentrons' app/src/molecules/PythonLabwareOffsetSnippet writes it).
SNIPPET = """import opentrons.execute
protocol = opentrons.execute.get_protocol_api("2.12")

labware_3 = protocol.load_labware("mscrobot_stirrer_vial_8ml", location="1")
labware_3.set_offset(x=0.30, y=-0.40, z=1.20)

module_4 = protocol.load_module("temperatureModuleV2", location="3")

labware_5 = module_4.load_labware("opentrons_24_aluminumblock_nest_1.5ml_snapcap")
labware_5.set_offset(x=0.10, y=0.00, z=0.00)

labware_6 = protocol.load_labware("opentrons_96_tiprack_300ul", location="11")
labware_6.set_offset(x=-0.10, y=0.20, z=0.00)
"""


def test_the_apps_labware_offset_data_is_imported(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(_lab_text())
    snippet = tmp_path / "offsets.py"
    snippet.write_text(SNIPPET)
    result = CliRunner().invoke(app, ["lab", "offsets", "import", str(snippet), "--lab", str(lab)])
    assert result.exit_code == 0, result.output
    assert (
        "left out: opentrons_24_aluminumblock_nest_1.5ml_snapcap: on a module or adapter"
        in result.output
    )
    config = lab_from_text(lab.read_text())
    assert [(o.labware, o.slot, o.x, o.y, o.z) for o in config.offsets] == [
        ("mscrobot_stirrer_vial_8ml", "1", 0.3, -0.4, 1.2),
        ("opentrons_96_tiprack_300ul", "11", -0.1, 0.2, 0.0),
    ]
    snippet.write_text("print('no offsets here')\n")
    result = CliRunner().invoke(app, ["lab", "offsets", "import", str(snippet), "--lab", str(lab)])
    assert result.exit_code == 2 and "nor the Opentrons App's labware offset data" in result.output


def test_assumed_geometry_is_named_until_measured() -> None:
    plain = lab_from_text(_lab_text())
    assert [name for _, name in unmeasured(plain)] == [
        "mscrobot_stirrer_vial_8ml",
        "mscrobot_6_vialrack_20ml",
        "mscrobot_flow_cell_inlet",
    ]
    assert all(ASSUMED_WARNING in w for w in geometry_warnings(plain))
    measured = lab_from_text(
        _lab_text(
            extra="offsets:\n"
            '  - {labware: mscrobot_stirrer_vial_8ml, slot: "1"}\n'
            '  - {labware: mscrobot_flow_cell_inlet, slot: "5"}\n'
        )
    )
    assert [name for _, name in unmeasured(measured)] == ["mscrobot_6_vialrack_20ml"]


def test_the_robot_applies_the_labs_offsets_to_its_run(
    robot: tuple[str, RobotEmulator], tmp_path: Path
) -> None:
    url, _ = robot
    lab = tmp_path / "lab.yaml"
    lab.write_text(_lab_text(url))
    import_offsets(lab, LPC, "lpc")
    config = lab_from_text(lab.read_text())
    recipe = load_recipe(REFERENCE).recipe
    handler = open_opentrons(config, start_tracker(config, recipe), tmp_path)
    try:
        run_id = handler.backend.run_id
        with httpx.Client(base_url=url, headers={"Opentrons-Version": "*"}) as api:
            run = api.get(f"/runs/{run_id}").json()["data"]
        kept = {
            o["location"]["slotName"]: (o["definitionUri"], o["vector"])
            for o in run["labwareOffsets"]
        }
        assert kept == {
            "1": ("custom_beta/mscrobot_stirrer_vial_8ml/1", {"x": 0.35, "y": -0.55, "z": 1.45}),
            "5": ("custom_beta/mscrobot_flow_cell_inlet/1", {"x": -0.2, "y": 0.3, "z": -0.75}),
            "11": ("opentrons/opentrons_96_tiprack_300ul/1", {"x": 0.1, "y": 0.0, "z": 0.0}),
        }
        ids = {o["location"]["slotName"]: o["id"] for o in run["labwareOffsets"]}
        loaded = {lw["location"]["slotName"]: lw.get("offsetId") for lw in run["labware"]}
        assert {slot: loaded[slot] for slot in ids} == ids  # each load took its offset
        assert loaded["2"] is None and loaded["10"] is None  # no offset given: none applied
    finally:
        handler.close()
    found = OpLog.read(tmp_path / LOG_NAME).robot
    assert {o["id"] for o in found["offsets"]} == set(ids.values())
    assert {s: i for s, i in found["applied"].items() if i} == ids
    assert found["assumed_geometry"] == ["mscrobot_6_vialrack_20ml in slot 2"]
    # another lab file of the same robot takes them from the robot's latest run with offsets
    other = tmp_path / "other.yaml"
    other.write_text(_lab_text(url))
    result = CliRunner().invoke(
        app, ["lab", "offsets", "import", "--from-robot", "--lab", str(other)]
    )
    assert result.exit_code == 0, result.output
    assert f"from {url} run {run_id}" in result.output
    assert lab_from_text(other.read_text()).offsets == config.offsets


def test_a_real_robot_refuses_assumed_geometry_unless_the_lab_accepts_it(
    robot: tuple[str, RobotEmulator], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The emulator says it is one (``fw_version: emulated``); told otherwise, the robot is
    treated as real."""
    url, emulator = robot
    real = emulator.health
    monkeypatch.setattr(emulator, "health", lambda: {**real(), "fw_version": "v1.1.0"})
    recipe = load_recipe(REFERENCE).recipe
    config = lab_from_text(_lab_text(url))
    with pytest.raises(
        LabRefusalError,
        match=r"a real robot and the deck has labware of "
        r"assumed geometry: measure it before a real run: "
        r"mscrobot_stirrer_vial_8ml \(slot 1\), mscrobot_6_vialrack_20ml "
        r"\(slot 2\), mscrobot_flow_cell_inlet \(slot 5\)",
    ):
        open_opentrons(config, start_tracker(config, recipe), None)
    assert emulator.command_posts == 0  # refused before the deck was set up
    accepted = lab_from_text(_lab_text(url, "accept_assumed_geometry: true\n"))
    handler = open_opentrons(accepted, start_tracker(accepted, recipe), None)
    handler.close()
    assert emulator.command_posts > 0


def test_a_robots_stored_offsets_are_read_by_their_location_sequence() -> None:
    """A newer robot stores offsets located by a sequence (the App's ``StoredLabwareOffset``):
    one on an addressable area is a slot's; one on a module is left out."""
    from mscrobot.app.offsets import match, offsets_in

    stored = {
        "data": [
            {
                "id": "a",
                "createdAt": "2025-03-01T12:00:00Z",
                "definitionUri": "custom_beta/mscrobot_flow_cell_inlet/1",
                "locationSequence": [{"kind": "onAddressableArea", "addressableAreaName": "5"}],
                "vector": {"x": 0.1, "y": 0.2, "z": 0.3},
            },
            {
                "id": "b",
                "createdAt": "2025-03-01T12:00:00Z",
                "definitionUri": "custom_beta/mscrobot_stirrer_vial_8ml/1",
                "locationSequence": [
                    {"kind": "onModule", "moduleModel": "heaterShakerModuleV1"},
                    {"kind": "onAddressableArea", "addressableAreaName": "1"},
                ],
                "vector": {"x": 1.0, "y": 1.0, "z": 1.0},
            },
        ],
        "meta": {"cursor": 0, "totalLength": 2},
    }
    taken, skipped = match(offsets_in(stored, "robot"), lab_from_text(_lab_text()), "robot")
    assert [(o.labware, o.slot, o.x, o.y, o.z) for o in taken] == [
        ("mscrobot_flow_cell_inlet", "5", 0.1, 0.2, 0.3)
    ]
    assert skipped == [
        "custom_beta/mscrobot_stirrer_vial_8ml/1: on a module or adapter, "
        "which this lab's deck has not"
    ]
