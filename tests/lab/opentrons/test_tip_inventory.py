"""Tips as the lab's inventory: the racks of a robot over HTTP are used from where earlier
runs left them (not from A1 of a rack assumed full), counted in a per-robot state file before
each pick-up; a run whose worst case needs more tips than the racks hold is refused before the
robot moves, naming the racks; the operator's refill resets a rack (``mscrobot lab tips``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mscrobot.app.labs import BuiltLab, assemble_lab
from mscrobot.app.tips import stock_for, worst_case_tips
from mscrobot.cli.app import app
from mscrobot.lab.config import lab_from_text, load_lab
from mscrobot.lab.opentrons.emulator import RobotEmulator, serve
from mscrobot.lab.opentrons.handler import OpentronsLiquidHandler
from mscrobot.lab.opentrons.http_backend import HttpBackend
from mscrobot.lab.opentrons.oplog import LOG_NAME, OpLog
from mscrobot.lab.protocols import LabRefusalError
from mscrobot.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[3]
EMULATED_LAB = ROOT / "hardware/labs/opentrons-emulated.yaml"
REFERENCE = ROOT / "recipes/cds34-zncl2.yaml"


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


@pytest.fixture
def lab_file(robot: tuple[str, RobotEmulator], tmp_path: Path) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(EMULATED_LAB.read_text().replace("http://127.0.0.1:31950", robot[0]))
    return path


def _open(lab_file: Path, folder: Path) -> BuiltLab:
    config = lab_from_text(lab_file.read_text())
    folder.mkdir(exist_ok=True)
    return assemble_lab(config, load_recipe(REFERENCE).recipe, 0, folder)


def _dispenses(built: BuiltLab, prefix: str, n: int) -> list[str]:
    """``n`` 100 µL hexane dispenses (the p300 on the right); the wells its tips came from."""
    h = built.lab.liquid_handler
    assert isinstance(h, OpentronsLiquidHandler) and isinstance(h.backend, HttpBackend)
    for i in range(n):
        h.dispense(f"{prefix}{i}", "hexane_stock", "blank_vial", 100.0, "nonpolar")
    return [r.params["wellName"] for r in h.backend.commands() if r.command_type == "pickUpTip"]


def _rack(lab_file: Path, slot: str) -> dict[str, object]:
    stock = stock_for(lab_from_text(lab_file.read_text()))
    assert stock is not None
    data = json.loads(stock.path.read_text())
    return data["racks"][slot]


@pytest.mark.slow  # two robot runs (~3 s on a busy machine)
def test_the_next_run_takes_tips_where_the_last_one_left_the_rack(
    lab_file: Path, tmp_path: Path
) -> None:
    first = _open(lab_file, tmp_path / "run-1")
    try:
        assert _dispenses(first, "a", 2) == ["A1", "B1"]
    finally:
        first.lab.close()
    assert _rack(lab_file, "11")["used"] == 2
    second = _open(lab_file, tmp_path / "run-2")  # a new run folder: racks as run 1 left them
    try:
        assert _dispenses(second, "b", 1) == ["C1"]
    finally:
        second.lab.close()
    assert _rack(lab_file, "11")["used"] == 3
    assert (
        "10"
        not in json.loads(
            stock_for(lab_from_text(lab_file.read_text())).path.read_text()  # type: ignore[union-attr]
        )["racks"]
    )  # the p1000 took none
    assert OpLog.read(tmp_path / "run-1" / LOG_NAME).tips == {"right": 2}
    result = CliRunner().invoke(app, ["lab", "tips", "--lab", str(lab_file), "--json"])
    assert result.exit_code == 0, result.output
    shown = {r["slot"]: (r["used"], r["left"]) for r in json.loads(result.output)["racks"]}
    assert shown == {"10": (0, 96), "11": (3, 93), "8": (0, 96), "7": (0, 96)}


@pytest.mark.slow  # three robot runs
def test_a_resumed_run_neither_reuses_nor_skips_a_tip(lab_file: Path, tmp_path: Path) -> None:
    """The inventory already counts what the run's first process took; its log counts the
    run's tips over both processes (the campaign's tip sheet reads it)."""
    other = _open(lab_file, tmp_path / "run-0")
    try:
        assert _dispenses(other, "z", 1) == ["A1"]
    finally:
        other.lab.close()
    first = _open(lab_file, tmp_path / "run-1")
    try:
        assert _dispenses(first, "a", 1) == ["B1"]
    finally:
        first.lab.close()
    resumed = _open(lab_file, tmp_path / "run-1")
    try:
        assert _dispenses(resumed, "b", 1) == ["C1"]
    finally:
        resumed.lab.close()
    assert _rack(lab_file, "11")["used"] == 3
    assert OpLog.read(tmp_path / "run-1" / LOG_NAME).tips == {"right": 2}


def test_a_run_is_refused_when_the_racks_hold_fewer_tips_than_its_worst_case(
    lab_file: Path, robot: tuple[str, RobotEmulator], tmp_path: Path
) -> None:
    config = lab_from_text(lab_file.read_text())
    need = worst_case_tips(load_recipe(REFERENCE).recipe, config)
    stock = stock_for(config)
    assert stock is not None and need["right"] > 6
    stock.path.parent.mkdir(parents=True)
    stock.path.write_text(
        json.dumps(
            {
                "robot": stock.robot,
                "racks": {
                    slot: {"labware": "opentrons_96_tiprack_300ul", "capacity": 96, "used": used}
                    for slot, used in (("11", 96), ("8", 96), ("7", 90))
                },
            }
        )
    )
    with pytest.raises(LabRefusalError) as refused:
        _open(lab_file, tmp_path / "run")
    assert str(refused.value).startswith(
        f"the p300_single_gen2 on the right mount may take {need['right']} tips in this run "
        "and its racks hold 6 (slot 11: 0 of 96, slot 8: 0 of 96, slot 7: 6 of 96)"
    )
    assert robot[1].command_posts == 0 and not robot[1].runs  # the robot was not touched
    result = CliRunner().invoke(
        app, ["lab", "tips", "--lab", str(lab_file), "--refill", "11", "--refill", "8"]
    )
    assert result.exit_code == 0, result.output
    assert "slot 11: opentrons_96_tiprack_300ul refilled, 96 tips" in result.output
    assert "slot 11  opentrons_96_tiprack_300ul: 96 of 96 left" in result.output
    assert "slot 8   opentrons_96_tiprack_300ul: 96 of 96 left" in result.output
    assert "slot 7   opentrons_96_tiprack_300ul: 6 of 96 left" in result.output
    built = _open(lab_file, tmp_path / "run")  # 198 tips now: enough
    try:
        assert _dispenses(built, "a", 1) == ["A1"]  # the refilled rack, from its first tip
    finally:
        built.lab.close()


def test_a_rack_whose_labware_changed_must_be_refilled(lab_file: Path, tmp_path: Path) -> None:
    config = lab_from_text(lab_file.read_text())
    stock = stock_for(config)
    assert stock is not None
    stock.take("11", "opentrons_96_filtertiprack_200ul", 96)
    with pytest.raises(
        LabRefusalError,
        match=r"tip rack slot 11: the inventory knows a "
        r"opentrons_96_filtertiprack_200ul there, the lab says "
        r"opentrons_96_tiprack_300ul: put a full rack in and run `mscrobot lab "
        r"tips --refill 11`",
    ):
        _open(lab_file, tmp_path / "run")
    result = CliRunner().invoke(app, ["lab", "tips", "--lab", str(lab_file), "--refill", "3"])
    assert result.exit_code == 2 and "has no tip rack in slot '3'" in result.output


def test_a_robot_in_process_keeps_no_inventory() -> None:
    config, _ = load_lab("simulated")
    assert stock_for(config) is None
    result = CliRunner().invoke(app, ["lab", "tips", "--lab", "simulated", "--refill", "11"])
    assert result.exit_code == 2 and "keeps no tip inventory" in result.output
