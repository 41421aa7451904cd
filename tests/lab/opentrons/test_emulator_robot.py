"""The robot emulator's configuration: the robot software it answers as (its command set and
routes), the instruments it holds and the tips physically on them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mscrobot.lab.opentrons import commands as c
from mscrobot.lab.opentrons.emulator import RobotEmulator, parse_pipettes, serve

WAIT = {"waitUntilComplete": "true", "timeout": "10000"}
REFERENCE = Path(__file__).resolve().parents[3] / "recipes/cds34-zncl2.yaml"


@contextmanager
def _api(robot: RobotEmulator) -> Iterator[httpx.Client]:
    server = serve(robot, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_address[1]}",
                          headers={"Opentrons-Version": "*"}) as client:
            yield client
    finally:
        robot.settle()
        server.shutdown()
        server.server_close()
        robot.close()


def _tip_on(api: httpx.Client, pipette: str, mount: str, rack: str, slot: str) -> str:
    """A run with ``pipette`` on ``mount`` holding a tip; returns its pipette id."""
    run = api.post("/runs", json={"data": {}}).json()["data"]["id"]
    post = f"/runs/{run}/commands"
    pip = api.post(post, params=WAIT, json={"data": c.load_pipette(pipette, mount)}).json()
    pip_id = pip["data"]["result"]["pipetteId"]
    tips = api.post(post, params=WAIT, json={"data": c.load_labware(rack, "opentrons", 1,
                                                                    slot)}).json()
    picked = api.post(post, params=WAIT, json={"data": c.pick_up_tip(
        pip_id, tips["data"]["result"]["labwareId"], "A1")}).json()
    assert picked["data"]["status"] == "succeeded"
    return str(pip_id)


def test_robot_software_8_1_has_no_air_gap_command_nor_current_state() -> None:
    with _api(RobotEmulator("OT-2", version="8.1.0")) as api:
        assert api.get("/health").json()["api_version"] == "8.1.0"
        pip = _tip_on(api, "p300_single_gen2", "right", "opentrons_96_tiprack_300ul", "1")
        run = api.get("/runs").json()["links"]["current"]["href"]
        gap = api.post(f"{run}/commands", params=WAIT,
                       json={"data": c.air_gap_in_place(pip, 10.0, 92.86)})
        assert gap.status_code == 422
        assert "No match for discriminator 'commandType' and value 'airGapInPlace'" in \
            gap.json()["errors"][0]["detail"]
        assert api.get(f"{run}/currentState").status_code == 404
        assert "outputFileIds" not in api.get(run).json()["data"]


def test_robot_software_8_8_has_both() -> None:
    with _api(RobotEmulator("OT-2", version="8.8.2")) as api:
        pip = _tip_on(api, "p300_single_gen2", "right", "opentrons_96_tiprack_300ul", "1")
        run = api.get("/runs").json()["links"]["current"]["href"]
        gap = api.post(f"{run}/commands", params=WAIT,
                       json={"data": c.air_gap_in_place(pip, 10.0, 92.86)})
        assert gap.status_code == 201, gap.text
        assert gap.json()["data"]["status"] == "succeeded"
        state = api.get(f"{run}/currentState").json()
        assert list(state["data"]["activeNozzleLayouts"]) == [pip]
        assert state["links"]["lastCompleted"]["id"] == gap.json()["data"]["id"]
        assert api.get(run).json()["data"]["outputFileIds"] == []


def test_a_flex_senses_the_tip_its_software_forgot() -> None:
    robot = RobotEmulator("Flex")
    with _api(robot) as api:
        instruments = api.get("/instruments").json()["data"]
        assert [(i["mount"], i.get("instrumentName")) for i in instruments] == [
            ("left", "p1000_single_flex"), ("right", "p50_single_flex"), ("extension", None)]
        assert not instruments[1]["state"]["tipDetected"]
        _tip_on(api, "p50_single_flex", "right", "opentrons_flex_96_tiprack_50ul", "C1")
        api.post("/runs", json={"data": {}})  # the run holding the tip ends
        right = api.get("/instruments").json()["data"][1]
        assert right["state"]["tipDetected"] and robot.tips_on == {"right"}
        deck = api.get("/deck_configuration").json()["data"]["cutoutFixtures"]
        assert {"cutoutFixtureId": "trashBinAdapter", "cutoutId": "cutoutA3"} in deck


def test_the_attached_pipettes_are_what_loads() -> None:
    with _api(RobotEmulator("OT-2", pipettes={"left": "p20_single_gen2"})) as api:
        run = api.post("/runs", json={"data": {}}).json()["data"]["id"]
        post = f"/runs/{run}/commands"
        right = api.post(post, params=WAIT,
                         json={"data": c.load_pipette("p300_single_gen2", "right")}).json()
        assert right["data"]["error"]["errorType"] == "FailedToLoadPipetteError"
        assert right["data"]["error"]["errorCode"] == "3010"
        left = api.post(post, params=WAIT,
                        json={"data": c.load_pipette("p20_single_gen2", "left")}).json()
        assert left["data"]["status"] == "succeeded"
        legacy = api.get("/pipettes").json()
        assert legacy["left"]["name"] == "p20_single_gen2" and legacy["right"]["name"] is None


def test_the_emulators_settings_are_checked() -> None:
    assert parse_pipettes(["left=p20_single_gen2", "right=p300_single_gen2"]) == {
        "left": "p20_single_gen2", "right": "p300_single_gen2"}
    with pytest.raises(ValueError, match="write MOUNT=NAME"):
        parse_pipettes(["p20_single_gen2"])
    with pytest.raises(ValueError, match="no pipette 'p9000'"):
        RobotEmulator("OT-2", pipettes={"left": "p9000"})
    with pytest.raises(ValueError, match=r"unknown robot software '7\.0'"):
        RobotEmulator("OT-2", version="7.0")


def test_a_flex_lab_drops_its_tips_where_the_robots_trash_is(flex_lab_text: str) -> None:
    """The trash bin moved from A3 to B3 (``PUT /deck_configuration``): the lab over HTTP
    drops each tip into movableTrashB3; A3 is a plain slot now."""
    from mscrobot.app.labs import build_lab
    from mscrobot.lab.config import lab_from_text
    from mscrobot.lab.opentrons.handler import OpentronsLiquidHandler
    from mscrobot.recipe.loader import load_recipe

    robot = RobotEmulator("Flex")
    with _api(robot) as api:
        fixtures = api.get("/deck_configuration").json()["data"]["cutoutFixtures"]
        moved = [{**f, "cutoutFixtureId": {"cutoutA3": "singleRightSlot",
                                           "cutoutB3": "trashBinAdapter"}.get(
                                               f["cutoutId"], f["cutoutFixtureId"])}
                 for f in fixtures]
        bad = api.put("/deck_configuration", json={"data": {"cutoutFixtures": moved[:-1]}})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["id"] == "InvalidDeckConfiguration"
        put = api.put("/deck_configuration", json={"data": {"cutoutFixtures": moved}})
        assert put.status_code == 200 and "lastModifiedAt" in put.json()["data"]
        text = flex_lab_text.replace("robot: simulate ", f"robot: {api.base_url} ")
        assert f"robot: {api.base_url}" in text
        lab = build_lab(lab_from_text(text), load_recipe(REFERENCE).recipe, 0, None)
        try:
            handler = lab.liquid_handler
            assert isinstance(handler, OpentronsLiquidHandler)
            assert handler.deck.trash == "movableTrashB3"
            handler.dispense("op-1", "salt_stock", "reaction", 40.0, "polar")
            trips = [r for r in handler.backend.commands()  # type: ignore[attr-defined]
                     if r.command_type == "moveToAddressableAreaForDropTip"]
            assert [r.params["addressableAreaName"] for r in trips] == ["movableTrashB3"]
            assert all(r.status == "succeeded" for r in trips)
        finally:
            lab.close()
