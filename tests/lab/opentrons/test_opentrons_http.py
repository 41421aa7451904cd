"""The HTTP backend against the robot emulator over real HTTP: the robot's shapes and codes,
the reference recipe end to end, a failed command, a robot busy or taken over by another
client, a slow one, a dropped connection and an unreachable one."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mscrobot.app.dryrun import simulate
from mscrobot.app.labs import BuiltLab, assemble_lab, start_tracker
from mscrobot.engine.journal import Journal
from mscrobot.engine.runner import Engine
from mscrobot.engine.states import RunState
from mscrobot.lab.config import lab_from_text
from mscrobot.lab.opentrons import commands as c
from mscrobot.lab.opentrons.emulator import Faults, RobotEmulator, serve
from mscrobot.lab.opentrons.handler import OpentronsLiquidHandler, open_opentrons
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


def _robots(faults: str = "") -> Iterator[tuple[str, RobotEmulator]]:
    """An emulated OT-2 holding the shipped lab's pipettes, on a loopback port."""
    robot = RobotEmulator("OT-2", Faults.parse(faults))
    server = serve(robot, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", robot
    finally:
        robot.settle()
        server.shutdown()
        server.server_close()
        robot.close()


def _serve(faults: str = "") -> Iterator[str]:
    for url, _ in _robots(faults):
        yield url


@pytest.fixture(scope="module")
def emulated() -> Iterator[tuple[str, RobotEmulator]]:
    yield from _robots()


@pytest.fixture(scope="module")
def url(emulated: tuple[str, RobotEmulator]) -> str:
    return emulated[0]


def _lab_text(url: str, timeout: str = "60 s") -> str:
    text = EMULATED_LAB.read_text()
    assert "http://127.0.0.1:31950" in text and "timeout: 60 s" in text
    return text.replace("http://127.0.0.1:31950", url).replace("timeout: 60 s",
                                                                f"timeout: {timeout}")


def _built(url: str, timeout: str = "60 s", state_dir: Path | None = None) -> BuiltLab:
    return assemble_lab(lab_from_text(_lab_text(url, timeout)), load_recipe(REFERENCE).recipe,
                        0, state_dir)


def _lab(url: str, timeout: str = "60 s") -> Lab:
    return _built(url, timeout).lab


def _handler(lab: Lab) -> OpentronsLiquidHandler:
    assert isinstance(lab.liquid_handler, OpentronsLiquidHandler)
    return lab.liquid_handler


def _wait_for(api: httpx.Client, run_id: str, statuses: set[str]) -> str:
    for _ in range(100):
        status = str(api.get(f"/runs/{run_id}").json()["data"]["status"])
        if status in statuses:
            return status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} stayed {status}")


def test_the_robots_shapes_and_codes(url: str) -> None:
    """What the robot's server answers (tests/lab/opentrons/transcripts), as the client meets
    it: the version header on every route, an idle run ended by the next, command lists
    without results, stops that finish later."""
    with httpx.Client(base_url=url) as bare:
        health = bare.get("/health")  # /health needs the header too, with its legacy body
        assert health.status_code == 422 and health.json()["errorCode"] == "4000"
        assert health.headers["Opentrons-Min-Version"] == "2"
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
        first = api.post("/runs", json={"data": {}})
        assert first.status_code == 201
        data = first.json()["data"]
        assert data["status"] == "idle" and data["current"] is True
        # a new run ends an idle one: no 409, the first is stopped and not current
        run = api.post("/runs", json={"data": {}})
        assert run.status_code == 201
        ended = api.get(f"/runs/{data['id']}").json()["data"]
        assert (ended["status"], ended["current"]) == ("stopped", False)
        late = api.post(f"/runs/{data['id']}/commands", json={"data": c.home()})
        assert late.status_code == 409 and late.json()["errors"][0]["id"] == "RunStopped"
        assert "is not the current run" in late.json()["errors"][0]["detail"]
        run_id = run.json()["data"]["id"]
        assert api.get("/runs/nope").status_code == 404
        bad = api.post(f"/runs/{run_id}/commands", params={"waitUntilComplete": "true"},
                       json={"data": c.load_pipette("p9000", "left")})
        assert bad.status_code == 422
        wrong = api.post(f"/runs/{run_id}/commands", params={"waitUntilComplete": "true"},
                         json={"data": c.load_pipette("p20_single_gen2", "left")})
        assert wrong.json()["data"]["error"]["errorType"] == "FailedToLoadPipetteError"
        home = api.post(f"/runs/{run_id}/commands", params={"waitUntilComplete": "true"},
                        json={"data": c.home()})
        assert home.status_code == 201 and home.json()["data"]["status"] == "succeeded"
        loaded = api.post(f"/runs/{run_id}/commands", params={"waitUntilComplete": "true"},
                          json={"data": c.load_pipette("p300_single_gen2", "right")})
        cmd_id = loaded.json()["data"]["id"]
        full = api.get(f"/runs/{run_id}/commands/{cmd_id}").json()["data"]
        assert full["result"]["pipetteId"]
        listed = api.get(f"/runs/{run_id}/commands", params={"cursor": "0"}).json()
        assert listed["meta"]["totalLength"] == 3
        assert all("result" not in item for item in listed["data"])  # summaries only
        assert listed["links"]["current"]["meta"]["commandId"] == cmd_id
        unknown = api.get(f"/runs/{run_id}/commands/{data['id']}")  # not a command here
        assert unknown.status_code == 500
        assert unknown.json()["errors"][0]["meta"]["type"] == "CommandDoesNotExistError"
        gone = api.get(f"/runs/{data['id']}/commands/{cmd_id}")  # a run the robot stored
        assert gone.status_code == 404 and gone.json()["errors"][0]["id"] == "CommandNotFound"
        act = f"/runs/{run_id}/actions"
        assert api.post(act, json={"data": {"actionType": "fly"}}).status_code == 422
        resume = api.post(act, json={"data": {"actionType": "resume-from-recovery"}})
        assert resume.status_code == 409  # nothing to recover from
        assert resume.json()["errors"][0]["id"] == "RunActionNotAllowed"
        stop = api.post(act, json={"data": {"actionType": "stop"}})
        assert stop.status_code == 201
        # the stop finishes later: the run cannot be let go or replaced until it has
        assert api.get(f"/runs/{run_id}").json()["data"]["status"] == "stop-requested"
        patch = api.patch(f"/runs/{run_id}", json={"data": {"current": False}})
        assert patch.status_code == 409 and patch.json()["errors"][0]["id"] == "RunNotIdle"
        busy = api.post("/runs", json={"data": {}})
        assert busy.status_code == 409 and busy.json()["errors"][0]["errorCode"] == "4001"
        assert _wait_for(api, run_id, {"stopped"}) == "stopped"
        late = api.post(f"/runs/{run_id}/commands", json={"data": c.home()})
        assert late.status_code == 409
        assert api.post(act, json={"data": {"actionType": "play"}}).status_code == 409
        assert api.patch(f"/runs/{run_id}", json={"data": {"current": False}}).status_code == 200
        # a played run (nothing queued: Opentrons' engine runs it to its end) takes no setup
        # commands, and a finished run no more actions
        played = api.post("/runs", json={"data": {}}).json()["data"]["id"]
        act = f"/runs/{played}/actions"
        assert api.post(act, json={"data": {"actionType": "play"}}).status_code == 201
        assert _wait_for(api, played, {"succeeded", "failed", "stopped"}) == "succeeded"
        assert api.post(f"/runs/{played}/commands", json={"data": c.home()}).status_code == 409
        assert api.post(act, json={"data": {"actionType": "pause"}}).status_code == 409
        assert api.patch(f"/runs/{played}", json={"data": {"current": False}}).status_code == 200


def test_commands_are_paged_as_the_robot_pages(url: str) -> None:
    """Without a cursor the robot answers the last page; past the end, the last command; the
    backend reads them all from the start, by an explicit cursor, and stops at the end."""
    backend = HttpBackend(url, "OT-2")
    try:
        for i in range(7):
            assert backend.send(c.command("comment", message=f"c{i}")).status == "succeeded"
        with httpx.Client(base_url=url, headers={"Opentrons-Version": "*"}) as api:
            path = f"/runs/{backend.run_id}/commands"
            tail = api.get(path, params={"pageLength": "3"}).json()
            assert tail["meta"] == {"cursor": 4, "totalLength": 7}
            assert [d["params"]["message"] for d in tail["data"]] == ["c4", "c5", "c6"]
            past = api.get(path, params={"cursor": "100", "pageLength": "5"}).json()
            assert past["meta"]["cursor"] == 6 and len(past["data"]) == 1
        assert [r.params["message"] for r in backend.commands()] == [f"c{i}" for i in range(7)]
    finally:
        backend.close()


@pytest.mark.slow  # a whole run over HTTP; the other tests here check each exchange
def test_the_reference_recipe_completes_over_http(url: str) -> None:
    recipe = load_recipe(REFERENCE).recipe
    plain = simulate(recipe, seed=0)
    built = _built(url)
    lab, world = built.lab, built.world
    journal = Journal(Path(":memory:"))
    try:
        end = Engine(journal, lab, ExchangePlan(recipe), "http").run()
        assert end.state == RunState.COMPLETED, end.reason
        assert end.steps == plain.steps
        # the wall clock, sped up by the lab's one speedup: each wait lasts its planned lab
        # time (to within half a wall second), and the robot's own time comes on top of them
        waits = [s for s in journal.steps() if s.kind == "wait"]
        speedup = lab_from_text(_lab_text(url)).speedup
        assert waits and lab.clock.real_time and speedup > 1
        for s in waits:
            assert s.started_t is not None and s.ended_t is not None
            lasted, planned = s.ended_t - s.started_t, s.params["seconds"]
            assert planned <= lasted < planned + 0.5 * speedup, (s.n, lasted, planned)
        assert end.lab_t > sum(s.params["seconds"] for s in waits)
        print(f"lab time {end.lab_t:.0f} s (simulated: {plain.time_s:.0f} s), waits "
              f"{sum(s.params['seconds'] for s in waits):.0f} s")
        h = _handler(lab)
        assert isinstance(h.backend, HttpBackend) and world is not None
        sent = h.backend.commands()
        assert len(sent) > 200 and all(r.status == "succeeded" for r in sent)
        assert set(h.ops) == world.done_ops and h.volumes() == world.tracker.volumes()
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
        with pytest.raises(LabRefusalError, match="pickUpTip failed: UnexpectedTipAttachError"):
            h.dispense("op-1", "salt_stock", "reaction", 1500.0, "polar")
        assert h.status_of("op-1") == "not_done"
        for cmd in h._drop(big):  # leave the shared robot bare for the next test
            assert h.backend.send(cmd).status == "succeeded"
    finally:
        lab.close()


def test_a_tip_outlives_its_run_on_the_robot(emulated: tuple[str, RobotEmulator]) -> None:
    """A tip held when a run ends stays on the pipette, but the robot's software forgets it:
    the next run's pick-up succeeds on the server, onto the old tip (the emulator records
    it). The backend finds the tip in the earlier run's record (list summaries and the run's
    pipettes); dropping it first leaves the pipette bare for a clean pick-up."""
    url, robot = emulated
    first = HttpBackend(url, "OT-2")
    pip = first.send(c.load_pipette("p300_single_gen2", "right")).result["pipetteId"]
    rack = first.send(c.load_labware("opentrons_96_tiprack_300ul", "opentrons", 1, "11"))
    assert first.send(c.pick_up_tip(pip, rack.result["labwareId"], "A1")).status == "succeeded"
    first.close()  # stopped, never played: the tip stays on
    assert robot.tips_on == {"right"}
    second = HttpBackend(url, "OT-2")
    try:
        assert second.tips_left([first.run_id]) == {"right"}
        pip = second.send(c.load_pipette("p300_single_gen2", "right")).result["pipetteId"]
        rack = second.send(c.load_labware("opentrons_96_tiprack_300ul", "opentrons", 1, "11"))
        before = len(robot.incidents)
        onto = second.send(c.pick_up_tip(pip, rack.result["labwareId"], "A2"))
        assert onto.status == "succeeded"  # the robot's software saw nothing wrong
        assert len(robot.incidents) == before + 1
        assert "pickUpTip onto a tip already on the right pipette" in robot.incidents[-1]
        assert second.send(c.move_to_trash(pip, "fixedTrash")).status == "succeeded"
        assert second.send(c.drop_leftover_tip(pip, second.robot_type)).status == "succeeded"
        assert robot.tips_on == set()
        # the leftover dropped first (as the handler does): a clean pick-up
        pick = c.pick_up_tip(pip, rack.result["labwareId"], "A3")
        assert second.send(pick).status == "succeeded"
        assert len(robot.incidents) == before + 1 and robot.tips_on == {"right"}
        listed = [r.command_type for r in second.commands()]
        assert listed[-4:] == ["pickUpTip", "moveToAddressableAreaForDropTip",
                               "dropTipInPlace", "pickUpTip"]
        assert second.tips_left([first.run_id, second.run_id]) == {"right"}
        assert second.send(c.move_to_trash(pip, "fixedTrash")).status == "succeeded"
        assert second.send(c.drop_tip_in_place(pip)).status == "succeeded"
    finally:
        second.close()
    assert robot.tips_on == set()


def test_another_clients_run_is_left_alone_and_the_robot_is_busy(url: str) -> None:
    lab = _lab(url)
    try:
        held = _handler(lab).backend.run_id
        with pytest.raises(TransientDeviceError, match=f"in use by another client \\(run {held}"):
            HttpBackend(url, "OT-2")
        with httpx.Client(base_url=url, headers={"Opentrons-Version": "*"}) as api:
            run = api.get(f"/runs/{held}").json()["data"]
            assert (run["status"], run["current"]) == ("idle", True)  # touched nothing
    finally:
        lab.close()
    with pytest.raises(DeviceFaultError, match="is an OT-2 Standard, the lab says Flex"):
        HttpBackend(url, "Flex")
    for busy in _serve("busy"):
        with pytest.raises(TransientDeviceError, match="busy: RunAlreadyActive"):
            HttpBackend(busy, "OT-2")


def test_a_robot_taken_by_another_client_is_a_fault_not_a_busy_moment(url: str) -> None:
    """Another client's ``POST /runs`` ends our idle run; the robot then refuses our
    commands with 409 RunStopped. That is a fault naming the other run, never retried."""
    lab = _lab(url)
    try:
        h = _handler(lab)
        with httpx.Client(base_url=url, headers={"Opentrons-Version": "*"}) as api:
            other = api.post("/runs", json={"data": {}}).json()["data"]
        with pytest.raises(DeviceFaultError, match=f"another client took the robot \\(run "
                                                   f"{other['id']}, created "):
            h.dispense("op-1", "salt_stock", "reaction", 100.0, "polar")
        assert h.volumes()["reaction"] == 0
        assert h.status_of("op-1") == "not_done"  # the robot never took a command of it
    finally:
        lab.close()
    with httpx.Client(base_url=url, headers={"Opentrons-Version": "*"}) as api:
        assert api.get(f"/runs/{other['id']}").json()["data"]["current"] is True
        api.patch(f"/runs/{other['id']}", json={"data": {"current": False}})


def test_closing_waits_for_the_stop_before_letting_go(emulated: tuple[str, RobotEmulator]) -> None:
    """A stop finishes later on the robot; ``close`` waits for it, so the run is let go (not
    left current, where the next ``POST /runs`` would meet 409)."""
    url, robot = emulated
    backend = HttpBackend(url, "OT-2")
    assert backend.send(c.home()).status == "succeeded"
    started = time.monotonic()
    backend.close()
    assert time.monotonic() - started >= robot.stop_s
    with httpx.Client(base_url=url, headers={"Opentrons-Version": "*"}) as api:
        run = api.get(f"/runs/{backend.run_id}").json()["data"]
        assert (run["status"], run["current"]) == ("stopped", False)
    HttpBackend(url, "OT-2").close()  # the robot takes the next run at once


def test_an_unreachable_robot_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientDeviceError, match="unreachable"):
        HttpBackend(f"http://127.0.0.1:{port}", "OT-2", timeout_s=1.0)


def test_a_connection_dropped_mid_operation_leaves_it_unknown() -> None:
    for url in _serve(f"drop@{FIRST_ASPIRATE}"):
        built = _built(url)
        try:
            h = _handler(built.lab)
            with pytest.raises(DeviceFaultError, match=r"lost the robot .* may have been"):
                h.dispense("op-1", "salt_stock", "reaction", 1500.0, "polar")
            assert h.status_of("op-1") == "unknown"  # the aspirate ran; ask the operator
            assert built.world is not None
            assert h.volumes()["reaction"] == built.world.vessels["reaction"].volume_ul == 0
        finally:
            built.lab.close()


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


def test_devices_probe_reads_the_robot(url: str) -> None:
    """Health, software, the pipettes on each mount, calibration, the current run, the
    trash; the lab's labware of assumed geometry as warnings."""
    from mscrobot.app.probe import probe_lab

    found = probe_lab(lab_from_text(_lab_text(url)))[0]
    assert found["ok"], found["error"]
    assert found["backend"] == "opentrons" and found["url"] == url
    assert "OT-2 Standard" in found["identity"]
    state = found["state"]
    assert state["software"] == "8.8.2" and "air_gap" not in state
    assert (state["left_pipette"], state["right_pipette"]) == ("p1000_single_gen2",
                                                               "p300_single_gen2")
    assert state["calibration_status"] == "not served (404)"
    assert state["trash"] == "fixedTrash"
    with httpx.Client(base_url=url, headers={"Opentrons-Version": "*"}) as api:
        current = [r for r in api.get("/runs").json()["data"] if r["current"]]
    assert state["current_run"] == ("none" if not current else
                                    f"{current[0]['id']} ({current[0]['status']}, created "
                                    f"{current[0]['createdAt']})")
    assert any("mscrobot_flow_cell_inlet in slot 5: assumed geometry: measure it before a "
               "real run" in w for w in found["warnings"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = probe_lab(lab_from_text(_lab_text(closed)))[0]
    assert not down["ok"] and "refused" in down["error"].lower()


def _crash(built: BuiltLab) -> None:
    """What a killed process leaves: files closed by the OS, the robot's run still current."""
    _handler(built.lab).log.close()
    if built.world is not None:
        built.world.close()


def _cut_last_line(path: Path, **expected: Any) -> None:
    """The log as a process killed just before writing its last line left it."""
    lines = path.read_text().splitlines(keepends=True)
    last = json.loads(lines[-1])
    assert {k: last.get(k) for k in expected} == expected, last
    path.write_text("".join(lines[:-1]))


def test_a_resumed_run_asks_the_robot_about_the_crashed_processes_commands(
        tmp_path: Path) -> None:
    # run/1 (1500 µL with the p1000: a tip, two aspirate-air gap-dispense-blowout rounds, the
    # trash) is 13 commands, so run/2's first aspirate is the deck's 13th plus 13
    for url in _serve(f"drop@{FIRST_ASPIRATE + 13}"):
        built = _built(url, state_dir=tmp_path)
        h = _handler(built.lab)
        old_run = h.backend.run_id
        h.dispense("run/1", "salt_stock", "reaction", 1500.0, "polar")
        assert len(h.command_ids("run/1")) == 13
        with pytest.raises(DeviceFaultError, match="lost the robot"):
            h.dispense("run/2", "cluster_stock", "reaction", 1500.0, "nonpolar")
        assert len(h.command_ids("run/2")) == 1  # the pickUpTip; the aspirate's answer lost
        _crash(built)
        resumed = _built(url, state_dir=tmp_path).lab
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
    recipe = load_recipe(REFERENCE).recipe
    built = assemble_lab(lab_from_text(text), recipe, 0, tmp_path)
    _handler(built.lab).dispense("run/1", "salt_stock", "reaction", 1500.0, "polar")
    _handler(built.lab).dispense("run/2", "cluster_stock", "reaction", 1500.0, "nonpolar")
    _crash(built)
    built.lab.liquid_handler.backend.close()  # type: ignore[attr-defined]
    # killed after run/2's last command, before its done line: the twin never heard of it
    _cut_last_line(tmp_path / "world.jsonl", op="dispense", id="run/2")
    _cut_last_line(tmp_path / "opentrons.jsonl", op="run/2", done=True)
    again = assemble_lab(lab_from_text(text), recipe, 0, tmp_path)
    resumed = again.lab
    try:
        h = _handler(resumed)
        assert "run/1" in h.ops and not h.backend.knows_run(h.ops["run/1"].run_id)
        # the robot that did run/2 is gone: the twin answers for it, and it says not done
        assert [h.status_of(f"run/{i}") for i in (1, 2, 3)] == ["done", "not_done", "not_done"]
        assert again.world is not None and h.volumes() == again.world.tracker.volumes()
        assert h.volumes()["reaction"] == 1500.0
        h.dispense("run/2", "cluster_stock", "reaction", 1500.0, "nonpolar")  # done again
        picked = [r for r in h.backend.commands()  # type: ignore[attr-defined]
                  if r.command_type == "pickUpTip"]
        # the crashed process took the p1000's first two tips: this one takes the next
        assert [r.params["wellName"] for r in picked] == ["C1"]
        assert h.volumes() == again.world.tracker.volumes()
    finally:
        resumed.close()


def test_the_robots_record_settles_an_operation_whose_done_line_a_crash_lost(
        url: str, tmp_path: Path) -> None:
    """No World: the handler's tracker alone, rebuilt from its log and the robot's record."""
    config, recipe = lab_from_text(_lab_text(url)), load_recipe(REFERENCE).recipe
    h = open_opentrons(config, start_tracker(config, recipe), tmp_path)
    h.dispense("run/1", "salt_stock", "reaction", 1500.0, "polar")
    h.dispense("run/2", "cluster_stock", "reaction", 1500.0, "nonpolar")
    after = (h.volumes(), dict(h.tracker.layers))
    h.log.close()  # killed after run/2's last command, before its done line
    log = tmp_path / "opentrons.jsonl"
    _cut_last_line(log, op="run/2", done=True)
    again = open_opentrons(config, start_tracker(config, recipe), tmp_path)
    try:
        assert again.follower is None and again.ops["run/2"].done
        assert (again.volumes(), again.tracker.layers) == after
        assert again.status_of("run/2") == "done" and again.volumes()["reaction"] == 3000.0
        events = [json.loads(x) for x in log.read_text().splitlines()]
        assert sum(1 for e in events if e == {"op": "run/2", "done": True}) == 1
    finally:
        again.close()


def test_the_twin_catches_up_with_what_the_robot_did_before_a_crash(
        url: str, tmp_path: Path) -> None:
    built = _built(url, state_dir=tmp_path)
    h = _handler(built.lab)
    h.dispense("run/1", "salt_stock", "reaction", 1500.0, "polar")
    h.dispense("run/2", "cluster_stock", "reaction", 1500.0, "nonpolar")
    _crash(built)
    # killed after run/2's last command: neither its done line nor the twin's was written
    _cut_last_line(tmp_path / "world.jsonl", op="dispense", id="run/2")
    _cut_last_line(tmp_path / "opentrons.jsonl", op="run/2", done=True)
    again = _built(url, state_dir=tmp_path)
    h = _handler(again.lab)
    assert again.world is not None and "run/2" in again.world.done_ops
    assert h.status_of("run/2") == "done" and h.volumes()["reaction"] == 3000.0
    assert h.volumes() == again.world.tracker.volumes() and again.world.vial is not None
    h.dispense("run/3", "hexane_stock", "reaction", 1000.0, "nonpolar")
    _crash(again)
    # killed between run/3's done line and the twin's
    _cut_last_line(tmp_path / "world.jsonl", op="dispense", id="run/3")
    third = _built(url, state_dir=tmp_path)
    try:
        h = _handler(third.lab)
        assert third.world is not None and "run/3" in third.world.done_ops
        assert h.status_of("run/3") == "done" and h.volumes()["reaction"] == 4000.0
        assert h.volumes() == third.world.tracker.volumes()
        assert third.world.layers == {"polar": 1500.0, "nonpolar": 2500.0}
    finally:
        third.lab.close()
