"""Safe stops on the robot, over real HTTP to the robot emulator (in this process, on a loopback
port): a stop request mid-dispense, a robot failure mid-dispense and a robot still moving, each
ending with the stirrer off, the tip emptied and dropped and the robot homed, every step in the
journal, and the emulator's own record of the physical tips saying none is left on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mscrobot.app.runs import RunInfo, create_run, execute
from mscrobot.engine.journal import Journal
from mscrobot.engine.states import RunState
from mscrobot.lab.config import lab_from_text
from mscrobot.lab.opentrons import commands as c
from mscrobot.lab.opentrons.emulator import Faults, RobotEmulator, serve
from mscrobot.lab.opentrons.http_backend import HttpBackend
from mscrobot.lab.opentrons.oplog import OpLog
from mscrobot.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[3]
EMULATED_LAB = ROOT / "hardware/labs/opentrons-emulated.yaml"
REFERENCE = ROOT / "recipes/cds34-zncl2.yaml"
#: Deck setup of the shipped lab is 11 commands; step 1 (a 20 µL polar sample of the salt stock
#: into the flow cell with the p300) is pickUpTip (12), moveToWell, prepareToAspirate,
#: airGapInPlace, aspirate (16), moveToWell, airGapInPlace, dispense (19), blowout, the trash
FIRST_ASPIRATE, FIRST_DISPENSE = 16, 19
SAFE_STEPS = ["stop the stirrer", "stop the robot's motion", "empty the tips", "drop the tips",
              "home the robot"]


def _robot(faults: str = "") -> Iterator[tuple[str, RobotEmulator]]:
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


def _run(url: str, out: Path) -> RunInfo:
    text = EMULATED_LAB.read_text().replace("http://127.0.0.1:31950", url)
    loaded = load_recipe(REFERENCE)
    return create_run(loaded.recipe, REFERENCE.read_text(), str(REFERENCE), lab_from_text(text),
                      text, 0, out)


def _journal(info: RunInfo) -> tuple[list[dict[str, Any]], dict[int, str]]:
    journal = Journal(info.path / "journal.sqlite")
    try:
        return journal.safe_stops(), {s.n: s.status for s in journal.steps()}
    finally:
        journal.close()


def _stop_after(monkeypatch: pytest.MonkeyPatch, stop: threading.Event, command: str,
                nth: int = 1) -> list[str]:
    """Set ``stop`` once the robot has answered its ``nth`` ``command`` (the signal handler's
    part, at a chosen point); every command type sent is recorded."""
    send = HttpBackend.send
    sent: list[str] = []

    def spy(self: HttpBackend, cmd: c.Command) -> Any:
        result = send(self, cmd)
        sent.append(cmd["commandType"])
        if sent.count(command) == nth and cmd["commandType"] == command:
            stop.set()
        return result

    monkeypatch.setattr(HttpBackend, "send", spy)
    return sent


@pytest.mark.slow  # ~3 s: two executions over HTTP
def test_a_stop_before_the_dose_lands_returns_it_drops_the_tip_and_the_resume_doses_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for url, robot in _robot():
        info = _run(url, tmp_path)
        stop = threading.Event()
        sent = _stop_after(monkeypatch, stop, "aspirate")
        end = execute(info, stop_requested=stop)
        assert end.state == RunState.STOPPED and end.steps == 0, end.reason
        assert "dispense" not in sent  # stopped before the salt reached the vial
        stops, steps = _journal(info)
        assert [s["action"] for s in stops] == SAFE_STEPS and all(s["ok"] for s in stops)
        assert "blown out into salt_stock" in stops[2]["detail"]
        assert "undone" in stops[2]["detail"] and "dropped into the trash" in stops[3]["detail"]
        assert steps == {1: "intent"}  # open: the resume asks the robot's handler
        # the commands after the aspirate: back into the stock, the trash, home
        assert sent[-5:] == ["aspirate", "blowout", "moveToAddressableAreaForDropTip",
                             "dropTipInPlace", "home"]
        robot.settle()
        assert robot.tips_on == set() and robot.incidents == []  # the robot's own record
        log = OpLog.read(info.path / "opentrons.jsonl")
        assert log.ops[f"{info.id}/1"].undone

        monkeypatch.undo()
        again = threading.Event()
        sent = _stop_after(monkeypatch, again, "pickUpTip", nth=2)  # within step 3's flush
        end = execute(info, stop_requested=again)
        assert end.state == RunState.STOPPED and end.steps == 2, end.reason
        assert sent.count("dispense") == 1  # step 1 ran again, once
        _, steps = _journal(info)
        assert steps == {1: "done", 2: "done", 3: "intent"}
        robot.settle()
        assert robot.tips_on == set()


def test_a_stop_once_the_dose_landed_finishes_the_dose(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for url, robot in _robot():
        info = _run(url, tmp_path)
        stop = threading.Event()
        sent = _stop_after(monkeypatch, stop, "dispense")  # the sample is in the flow cell
        end = execute(info, stop_requested=stop)
        assert end.state == RunState.STOPPED and end.steps == 1, end.reason
        i = sent.index("dispense")  # carried to its end, then the safe stop: home
        assert sent[i:] == ["dispense", "blowout", "moveToAddressableAreaForDropTip",
                            "dropTipInPlace", "home"]
        stops, steps = _journal(info)
        assert steps == {1: "done"}
        assert [s["action"] for s in stops] == SAFE_STEPS and all(s["ok"] for s in stops)
        assert stops[2]["detail"] == "no tip holds liquid"
        assert stops[3]["detail"] == "no tip on any pipette"
        robot.settle()
        assert robot.tips_on == set()


def test_a_robot_failure_before_the_liquid_lands_returns_it_and_the_resume_runs_it_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the aspirate runs but its answer is lost: the robot's record, read by key, says it drew
    for url, robot in _robot(f"drop@{FIRST_ASPIRATE}"):
        info = _run(url, tmp_path)
        end = execute(info)
        assert end.state == RunState.FAILED and "lost the robot" in end.reason
        stops, steps = _journal(info)
        assert [s["action"] for s in stops] == SAFE_STEPS and all(s["ok"] for s in stops), stops
        assert "blown out into salt_stock" in stops[2]["detail"]
        assert "undone" in stops[2]["detail"]
        robot.settle()
        assert robot.tips_on == set() and steps == {1: "failed"}
        stop = threading.Event()
        sent = _stop_after(monkeypatch, stop, "pickUpTip", nth=2)  # within step 3's flush
        end = execute(info, stop_requested=stop)
        assert end.state == RunState.STOPPED, end.reason  # step 1 ran again, no question
        _, steps = _journal(info)
        assert steps == {1: "done", 2: "done", 3: "intent"} and sent.count("aspirate") == 1


@pytest.mark.slow  # ~2 s
def test_a_robot_failure_mid_dispense_ends_with_the_tip_emptied_and_dropped(
        tmp_path: Path) -> None:
    # the dispense into the flow cell runs but its answer is lost
    for url, robot in _robot(f"drop@{FIRST_DISPENSE}"):
        info = _run(url, tmp_path)
        end = execute(info)
        assert end.state == RunState.FAILED and "lost the robot" in end.reason
        stops, steps = _journal(info)
        assert [s["action"] for s in stops] == SAFE_STEPS and all(s["ok"] for s in stops), stops
        # the dispense may have landed: what the tip may still hold goes back where it came
        assert "blown out into salt_stock" in stops[2]["detail"]
        assert "undone" not in stops[2]["detail"]
        robot.settle()
        assert robot.tips_on == set()  # no tip left loaded over the vial
        assert steps == {1: "failed"}
        end = execute(info)  # part of the salt is in: only the operator can say
        assert end.state == RunState.AWAITING_OPERATOR and end.pending is not None
        assert end.pending["step"] == 1 and "cannot say whether it happened" in end.reason


def test_halt_stops_our_run_behind_a_command_still_running_and_takes_a_new_run() -> None:
    """Opentrons' own engine (the robot's server runs the same ``RunOrchestrator``) lets a
    setup command that is running finish before a stop of a run that never played takes
    effect: the stop keeps anything else from starting, and the robot then takes a new run."""
    for url, robot in _robot():
        backend = HttpBackend(url, "OT-2")
        try:
            backend.send(c.home())
            first = backend.run_id
            long_wait = {**c.command("waitForDuration", seconds=1.0), "key": "w/0"}
            answered: list[Any] = []
            sender = threading.Thread(target=lambda b=backend, w=long_wait, a=answered:
                                      a.append(b.send(w)))
            t0 = time.monotonic()
            sender.start()
            time.sleep(0.5)
            stopped = backend.halt()
            took = time.monotonic() - t0
            sender.join(timeout=10)
            assert stopped is not None and "waitForDuration" in stopped and first in stopped
            assert 1.0 <= took < 10.0  # the running command's end, then the stop
            assert answered and answered[0].status in ("succeeded", "failed")
            assert robot.runs[first].status() == "stopped" and not robot.runs[first].current
            assert backend.run_id != first
            assert backend.send(c.home()).status == "succeeded"  # the new run takes commands
            assert backend.halt() is None  # idle: nothing to stop
        finally:
            backend.close()
