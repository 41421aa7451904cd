"""The HTTP backend against the robot emulator over real HTTP: the robot's shapes and codes,
the reference recipe end to end, a failed command, a busy robot, a slow one, a dropped
connection and an unreachable one."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mscrobot.app.dryrun import simulate
from mscrobot.app.labs import build_lab
from mscrobot.engine.journal import Journal
from mscrobot.engine.runner import Engine
from mscrobot.engine.states import RunState
from mscrobot.lab.config import lab_from_text
from mscrobot.lab.opentrons import commands as c
from mscrobot.lab.opentrons.emulator import Faults, RobotEmulator, serve
from mscrobot.lab.opentrons.handler import OpentronsLiquidHandler
from mscrobot.lab.opentrons.http_backend import HttpBackend
from mscrobot.lab.protocols import (
    DeviceFaultError,
    Lab,
    LabRefusalError,
    TransientDeviceError,
)
from mscrobot.procedure.plan import ExchangePlan
from mscrobot.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[3]
EMULATED_LAB = ROOT / "hardware/labs/opentrons-emulated.yaml"
REFERENCE = ROOT / "recipes/cds34-zncl2.yaml"
#: Deck setup of the shipped lab: home, 2 pipettes, 4 tip racks, 4 labware = 11 commands; the
#: first operation's pickUpTip is command 12 and its first aspirate 13.
FIRST_ASPIRATE = 13


def _serve(faults: str = "") -> Iterator[str]:
    robot = RobotEmulator("OT-2", Faults.parse(faults))
    server = serve(robot, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        robot.close()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield from _serve()


def _lab_text(url: str, timeout: str = "60 s") -> str:
    text = EMULATED_LAB.read_text()
    assert "http://127.0.0.1:31950" in text and "timeout: 60 s" in text
    return text.replace("http://127.0.0.1:31950", url).replace("timeout: 60 s",
                                                                f"timeout: {timeout}")


def _lab(url: str, timeout: str = "60 s") -> Lab:
    return build_lab(lab_from_text(_lab_text(url, timeout)), load_recipe(REFERENCE).recipe, 0,
                     None)


def _handler(lab: Lab) -> OpentronsLiquidHandler:
    assert isinstance(lab.liquid_handler, OpentronsLiquidHandler)
    return lab.liquid_handler


def test_the_robots_shapes_and_codes(url: str) -> None:
    with httpx.Client(base_url=url) as bare:
        health = bare.get("/health")  # any client may find the robot
        assert health.status_code == 200 and health.headers["Opentrons-Min-Version"] == "2"
        missing = bare.post("/runs", json={"data": {}})
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["id"] == "InvalidRequest"
        old = bare.post("/runs", json={"data": {}}, headers={"Opentrons-Version": "1"})
        assert old.status_code == 400
        assert old.json()["errors"][0]["id"] == "OutdatedAPIVersion"
        newer = bare.get("/runs/nope", headers={"Opentrons-Version": "99"})
        assert newer.status_code == 404 and newer.headers["Opentrons-Version"] == "4"
    with httpx.Client(base_url=url, headers={"Opentrons-Version": "*"}) as api:
        assert api.get("/health").json()["robot_model"] == "OT-2 Standard"
        run = api.post("/runs", json={"data": {}})
        assert run.status_code == 201
        data = run.json()["data"]
        assert data["status"] == "idle" and data["current"] is True
        run_id = data["id"]
        assert api.post("/runs", json={"data": {}}).json()["errors"][0]["id"] == \
            "RunAlreadyActive"
        assert api.get("/runs/nope").status_code == 404
        bad = api.post(f"/runs/{run_id}/commands", params={"waitUntilComplete": "true"},
                       json={"data": c.load_pipette("p9000", "left")})
        assert bad.status_code == 422
        home = api.post(f"/runs/{run_id}/commands", params={"waitUntilComplete": "true"},
                        json={"data": c.home()})
        assert home.status_code == 201 and home.json()["data"]["status"] == "succeeded"
        cmd_id = home.json()["data"]["id"]
        assert api.get(f"/runs/{run_id}/commands/{cmd_id}").json()["data"]["id"] == cmd_id
        listed = api.get(f"/runs/{run_id}/commands").json()
        assert listed["meta"]["totalLength"] == 1
        act = f"/runs/{run_id}/actions"
        assert api.post(act, json={"data": {"actionType": "fly"}}).status_code == 422
        resume = api.post(act, json={"data": {"actionType": "resume-from-recovery"}})
        assert resume.status_code == 409  # nothing to recover from
        assert resume.json()["errors"][0]["id"] == "RunActionNotAllowed"
        stop = api.post(act, json={"data": {"actionType": "stop"}})
        assert stop.status_code == 201
        assert api.get(f"/runs/{run_id}").json()["data"]["status"] == "stopped"
        late = api.post(f"/runs/{run_id}/commands", json={"data": c.home()})
        assert late.status_code == 409
        assert api.post(act, json={"data": {"actionType": "play"}}).status_code == 409
        assert api.patch(f"/runs/{run_id}", json={"data": {"current": False}}).status_code == 200
        # a played run (nothing queued: Opentrons' engine runs it to its end) takes no setup
        # commands, and a finished run no more actions
        played = api.post("/runs", json={"data": {}}).json()["data"]["id"]
        act = f"/runs/{played}/actions"
        assert api.post(act, json={"data": {"actionType": "play"}}).status_code == 201
        for _ in range(50):
            status = api.get(f"/runs/{played}").json()["data"]["status"]
            if status not in ("idle", "running"):
                break
            time.sleep(0.1)
        assert status == "succeeded"
        assert api.post(f"/runs/{played}/commands", json={"data": c.home()}).status_code == 409
        assert api.post(act, json={"data": {"actionType": "pause"}}).status_code == 409
        assert api.patch(f"/runs/{played}", json={"data": {"current": False}}).status_code == 200


@pytest.mark.slow  # a whole run over HTTP; the other tests here check each exchange
def test_the_reference_recipe_completes_over_http(url: str) -> None:
    recipe = load_recipe(REFERENCE).recipe
    plain = simulate(recipe, seed=0)
    lab = _lab(url)
    journal = Journal(Path(":memory:"))
    try:
        end = Engine(journal, lab, ExchangePlan(recipe), "http").run()
        assert end.state == RunState.COMPLETED, end.reason
        assert (end.lab_t, end.steps) == (plain.time_s, plain.steps)
        h = _handler(lab)
        assert isinstance(h.backend, HttpBackend)
        sent = h.backend.commands()
        assert len(sent) > 200 and all(r.status == "succeeded" for r in sent)
        assert set(h.ops) == h.world.done_ops
        assert all(h.status_of(op) == "done" for op in h.ops)
    finally:
        journal.close()
        lab.close()
    lab = _lab(url)  # closing let the run go: the robot takes a new one
    lab.close()


def test_a_failed_command_over_http_is_a_clean_refusal(url: str) -> None:
    lab = _lab(url)
    try:
        h = _handler(lab)
        big = h.deck.pipettes[-1]
        rack, _ = big.tips[-1]
        assert h.backend.send(c.pick_up_tip(big.id, rack, "H12")).status == "succeeded"
        with pytest.raises(LabRefusalError, match="pickUpTip failed: TipAttachedError"):
            h.dispense("op-1", "salt_stock", "reaction", 1500.0, "polar")
        assert h.status_of("op-1") == "not_done"
        for cmd in h._drop(big):  # leave the shared robot bare for the next test
            assert h.backend.send(cmd).status == "succeeded"
    finally:
        lab.close()


def test_a_tip_outlives_its_run_on_the_robot(url: str) -> None:
    """The emulator's hardware keeps a tip held when a run is stopped, as the robot's does:
    the next run's engine believes the pipette bare, a pick-up fails, a drop clears it."""
    first = HttpBackend(url, "OT-2")
    pip = first.send(c.load_pipette("p300_single_gen2", "right")).result["pipetteId"]
    rack = first.send(c.load_labware("opentrons_96_tiprack_300ul", "opentrons", 1, "11"))
    assert first.send(c.pick_up_tip(pip, rack.result["labwareId"], "A1")).status == "succeeded"
    first.close()  # stopped, never played: the tip stays on
    second = HttpBackend(url, "OT-2")
    try:
        assert second.tips_left([first.run_id]) == {"right"}
        pip = second.send(c.load_pipette("p300_single_gen2", "right")).result["pipetteId"]
        rack = second.send(c.load_labware("opentrons_96_tiprack_300ul", "opentrons", 1, "11"))
        pick = c.pick_up_tip(pip, rack.result["labwareId"], "A2")
        refused = second.send(pick)
        assert (refused.status, refused.error_type) == ("failed", "TipAttachedError")
        assert second.send(c.move_to_trash(pip, "fixedTrash")).status == "succeeded"
        assert second.send(c.drop_leftover_tip(pip, second.robot_type)).status == "succeeded"
        assert second.send(pick).status == "succeeded"
        listed = [r.command_type for r in second.commands()]
        assert listed[-4:] == ["pickUpTip", "moveToAddressableAreaForDropTip",
                               "dropTipInPlace", "pickUpTip"]
        assert second.tips_left([first.run_id, second.run_id]) == {"right"}
        assert second.send(c.move_to_trash(pip, "fixedTrash")).status == "succeeded"
        assert second.send(c.drop_tip_in_place(pip)).status == "succeeded"
    finally:
        second.close()


def test_a_busy_robot_is_transient_and_touches_nothing(url: str) -> None:
    lab = _lab(url)
    try:
        with pytest.raises(TransientDeviceError, match="busy: RunAlreadyActive"):
            HttpBackend(url, "OT-2")
    finally:
        lab.close()
    with pytest.raises(DeviceFaultError, match="is an OT-2 Standard, the lab says Flex"):
        HttpBackend(url, "Flex")


def test_an_unreachable_robot_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientDeviceError, match="unreachable"):
        HttpBackend(f"http://127.0.0.1:{port}", "OT-2", timeout_s=1.0)


def test_a_connection_dropped_mid_operation_leaves_it_unknown() -> None:
    for url in _serve(f"drop@{FIRST_ASPIRATE}"):
        lab = _lab(url)
        try:
            h = _handler(lab)
            with pytest.raises(DeviceFaultError, match=r"lost the robot .* may have been"):
                h.dispense("op-1", "salt_stock", "reaction", 1500.0, "polar")
            assert h.status_of("op-1") == "unknown"  # the aspirate ran; ask the operator
            assert h.world.vessels["reaction"].volume_ul == 0
        finally:
            lab.close()


def test_a_command_still_running_at_the_timeout_is_followed_to_its_end() -> None:
    for url in _serve(f"slow@{FIRST_ASPIRATE}"):
        lab = _lab(url, timeout="1 s")
        try:
            h = _handler(lab)
            h.dispense("op-1", "salt_stock", "reaction", 1500.0, "polar")
            assert h.status_of("op-1") == "done"
        finally:
            lab.close()


@pytest.mark.slow
def test_mscrobot_run_against_mscrobot_emulate_opentrons(tmp_path: Path) -> None:
    """The commands a user types, as processes: the emulator, then a run over HTTP."""
    emulator = subprocess.Popen([sys.executable, "-m", "mscrobot.cli", "emulate", "opentrons",
                                 "--port", "0"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
    try:
        assert emulator.stdout is not None
        address = emulator.stdout.readline().strip()
        lab = tmp_path / "lab.yaml"
        lab.write_text(_lab_text(f"http://{address}"))
        done = subprocess.run([sys.executable, "-m", "mscrobot.cli", "run", str(REFERENCE),
                               "--lab", str(lab), "--out", str(tmp_path / "runs"), "--json"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        outcome = json.loads(done.stdout)
        assert (outcome["state"], outcome["reason"]) == ("completed", "finished")
    finally:
        emulator.kill()
        emulator.wait()


def test_devices_probe_reads_the_robots_health(url: str) -> None:
    from mscrobot.app.probe import probe_lab

    found = probe_lab(lab_from_text(_lab_text(url)))[0]
    assert found["ok"] and found["backend"] == "opentrons" and found["url"] == url
    assert "OT-2 Standard" in found["identity"] and found["state"] == "reachable"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = probe_lab(lab_from_text(_lab_text(closed)))[0]
    assert not down["ok"] and "refused" in down["error"].lower()


def _crash(lab: Lab) -> None:
    """What a killed process leaves: files closed by the OS, the robot's run still current."""
    h = _handler(lab)
    h.log.close()
    h.world.close()


def test_a_resumed_run_asks_the_robot_about_the_crashed_processes_commands(
        tmp_path: Path) -> None:
    # run/1 (1500 µL with the p1000: a tip, two aspirate-air gap-dispense-blowout rounds, the
    # trash) is 13 commands, so run/2's first aspirate is the deck's 13th plus 13
    for url in _serve(f"drop@{FIRST_ASPIRATE + 13}"):
        lab = build_lab(lab_from_text(_lab_text(url)), load_recipe(REFERENCE).recipe, 0,
                        tmp_path)
        h = _handler(lab)
        old_run = h.backend.run_id
        h.dispense("run/1", "salt_stock", "reaction", 1500.0, "polar")
        assert len(h.command_ids("run/1")) == 13
        with pytest.raises(DeviceFaultError, match="lost the robot"):
            h.dispense("run/2", "cluster_stock", "reaction", 1500.0, "nonpolar")
        assert len(h.command_ids("run/2")) == 1  # the pickUpTip; the aspirate's answer lost
        _crash(lab)
        resumed = build_lab(lab_from_text(_lab_text(url)), load_recipe(REFERENCE).recipe, 0,
                            tmp_path)
        try:
            again = _handler(resumed)
            assert again.backend.run_id != old_run  # the old run was let go, a new one made
            assert again.ops["run/1"].run_id == old_run
            assert again.status_of("run/1") == "done"  # the robot's record and the twin agree
            # the command in flight at the drop is found by its key: liquid had moved
            assert again.status_of("run/2") == "unknown"
            assert again.status_of("run/3") == "not_done"  # never sent
            # run/2's tip is still on the p1000: dropped in the trash before run/3 picks one
            big = again.deck.pipettes[-1]
            assert (big.mount, big.has_tip, big.leftover) == ("left", True, True)
            again.dispense("run/3", "hexane_stock", "reaction", 1000.0, "nonpolar")
            sent = [r.command_type for r in again.backend.commands()]  # type: ignore[attr-defined]
            first = sent.index("moveToAddressableAreaForDropTip")
            assert sent[first:first + 3] == ["moveToAddressableAreaForDropTip",
                                             "dropTipInPlace", "pickUpTip"]
            assert again.status_of("run/3") == "done" and not big.leftover
        finally:
            resumed.close()


def test_an_in_process_robot_of_a_crashed_process_defers_to_the_twin(tmp_path: Path) -> None:
    text = (ROOT / "hardware/labs/simulated.yaml").read_text()
    lab = build_lab(lab_from_text(text), load_recipe(REFERENCE).recipe, 0, tmp_path)
    _handler(lab).dispense("run/1", "salt_stock", "reaction", 1500.0, "polar")
    _crash(lab)
    lab.liquid_handler.backend.close()  # type: ignore[attr-defined]
    resumed = build_lab(lab_from_text(text), load_recipe(REFERENCE).recipe, 0, tmp_path)
    try:
        h = _handler(resumed)
        assert "run/1" in h.ops and not h.backend.knows_run(h.ops["run/1"].run_id)
        assert h.status_of("run/1") == "done" and h.status_of("run/2") == "not_done"
        # the crashed process took the first tip of the p1000's rack: this one takes the next
        h.dispense("run/2", "cluster_stock", "reaction", 1500.0, "nonpolar")
        picked = [r for r in h.backend.commands()  # type: ignore[attr-defined]
                  if r.command_type == "pickUpTip"]
        assert [r.params["wellName"] for r in picked] == ["B1"]
    finally:
        resumed.close()
