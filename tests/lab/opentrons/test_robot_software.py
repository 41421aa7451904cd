"""A robot's own software, read at open: an 8.1.0 robot (emulated) has no ``airGapInPlace``,
so the reference recipe runs with its air gaps drawn as aspirates in place; a release older
than any recorded one, or a command the handler cannot send another way, is refused before
the run starts, naming the version; a wrong pipette on a mount is refused naming the mount."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mscrobot.app.labs import assemble_lab
from mscrobot.app.tips import stock_for, worst_case_tips
from mscrobot.engine.journal import Journal
from mscrobot.engine.runner import Engine
from mscrobot.engine.states import RunState
from mscrobot.lab.config import lab_from_text
from mscrobot.lab.opentrons import handler as handler_module
from mscrobot.lab.opentrons.emulator import RobotEmulator, serve
from mscrobot.lab.opentrons.handler import OpentronsLiquidHandler
from mscrobot.lab.opentrons.http_backend import HttpBackend
from mscrobot.lab.opentrons.oplog import LOG_NAME, OpLog
from mscrobot.lab.opentrons.tipstock import racks_of
from mscrobot.lab.protocols import DeviceFaultError
from mscrobot.procedure.plan import ExchangePlan
from mscrobot.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[3]
EMULATED_LAB = ROOT / "hardware/labs/opentrons-emulated.yaml"
REFERENCE = ROOT / "recipes/cds34-zncl2.yaml"


def _robot(version: str, **kw: object) -> Iterator[tuple[str, RobotEmulator]]:
    robot = RobotEmulator("OT-2", version=version, **kw)  # type: ignore[arg-type]
    server = serve(robot, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", robot
    finally:
        robot.settle()
        server.shutdown()
        server.server_close()
        robot.close()


@pytest.fixture
def robot_8_1() -> Iterator[tuple[str, RobotEmulator]]:
    yield from _robot("8.1.0")


def _lab_text(url: str) -> str:
    return EMULATED_LAB.read_text().replace("http://127.0.0.1:31950", url)


def test_an_8_1_robot_is_read_at_open(robot_8_1: tuple[str, RobotEmulator]) -> None:
    url, _ = robot_8_1
    backend = HttpBackend(url, "OT-2")
    try:
        assert backend.software == "8.1.0"
        assert backend.command_types is not None
        assert "airGapInPlace" not in backend.command_types
        assert "aspirateInPlace" in backend.command_types
        assert backend.attached == {"left": "p1000_single_gen2", "right": "p300_single_gen2"}
        assert backend.calibration is None  # the emulator serves no calibration
        assert backend.found_run is None  # a fresh robot: nobody's run
    finally:
        backend.close()


@pytest.mark.slow  # a whole run over HTTP
def test_an_8_1_robot_runs_the_reference_recipe_without_air_gap_in_place(
    robot_8_1: tuple[str, RobotEmulator], tmp_path: Path
) -> None:
    url, _ = robot_8_1
    recipe = load_recipe(REFERENCE).recipe
    built_config = lab_from_text(_lab_text(url))
    built = assemble_lab(built_config, recipe, 0, tmp_path)
    journal = Journal(Path(":memory:"))
    try:
        end = Engine(journal, built.lab, ExchangePlan(recipe), "v81").run()
        assert end.state == RunState.COMPLETED, end.reason
        h = built.lab.liquid_handler
        assert isinstance(h, OpentronsLiquidHandler) and isinstance(h.backend, HttpBackend)
        sent = h.backend.commands()
        types = [r.command_type for r in sent]
        assert "airGapInPlace" not in types and "aspirateInPlace" in types
        assert all(r.status == "succeeded" for r in sent)
        # every air gap is drawn just above the liquid: the move before it is to a well's top
        for before, gap in itertools.pairwise(sent):
            if gap.command_type == "aspirateInPlace":
                assert before.command_type in ("moveToWell", "prepareToAspirate")
        assert h.volumes() == built.world.tracker.volumes()  # type: ignore[union-attr]
    finally:
        journal.close()
        built.lab.close()
    log = OpLog.read(tmp_path / LOG_NAME)
    assert log.robot["software"] == "8.1.0" and log.robot["air_gap"] == "aspirateInPlace"
    # the tips the whole run took, counted in the robot's inventory, within the worst case
    worst = worst_case_tips(recipe, built_config)
    racks = racks_of(stock_for(built_config), built_config)
    used = {mount: sum(r.used for r in rs) for mount, rs in racks.items()}
    assert used == log.tips and used["right"] > 20
    assert all(used[m] <= worst[m] for m in used), (used, worst)


def test_a_command_the_robot_lacks_is_refused_before_the_run_starts(
    robot_8_1: tuple[str, RobotEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No replacement for the trash's addressable-area move: refused naming the version,
    before the deck is set up (the robot ran no command)."""
    url, robot = robot_8_1
    monkeypatch.setattr(
        handler_module, "USED_COMMANDS", handler_module.USED_COMMANDS | {"airGapInPlace", "fooBar"}
    )
    config = lab_from_text(_lab_text(url))
    recipe = load_recipe(REFERENCE).recipe
    with pytest.raises(DeviceFaultError, match=r"robot software 8\.1\.0, which has no fooBar"):
        assemble_lab(config, recipe, 0, None)
    assert robot.command_posts == 0


def test_a_robot_older_than_any_recorded_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for url, robot in _robot("8.1.0"):
        old = {**robot.health(), "api_version": "7.5.0"}
        monkeypatch.setattr(robot, "health", lambda old=old: old)
        with pytest.raises(DeviceFaultError, match=r"7\.5\.0 is older than any .* 8\.1\.0"):
            HttpBackend(url, "OT-2")
        assert not robot.runs  # refused before a run was made


def test_a_wrong_pipette_on_a_mount_is_refused_naming_it() -> None:
    for url, robot in _robot(
        "8.8.2", pipettes={"left": "p20_single_gen2", "right": "p300_single_gen2"}
    ):
        config = lab_from_text(_lab_text(url))
        with pytest.raises(
            DeviceFaultError,
            match=r"left mount holds p20_single_gen2, the "
            r"lab file says p1000_single_gen2 \(liquid_handler\.pipettes\.left\)",
        ):
            assemble_lab(config, load_recipe(REFERENCE).recipe, 0, None)
        assert robot.command_posts == 0


def test_devices_probe_names_the_release_and_a_wrong_pipette() -> None:
    from mscrobot.app.probe import probe_lab

    for url, _ in _robot(
        "8.1.0", pipettes={"left": "p20_single_gen2", "right": "p300_single_gen2"}
    ):
        found = probe_lab(lab_from_text(_lab_text(url)))[0]
        assert not found["ok"]
        assert found["error"] == (
            "the left mount holds p20_single_gen2; the lab file says p1000_single_gen2"
        )
        state = found["state"]
        assert state["software"] == "8.1.0"
        assert state["air_gap"] == "aspirate in place (no airGapInPlace)"
        assert state["left_pipette"] == "p20_single_gen2"
        assert state["stored_offsets"] == "none kept outside runs (this release)"
