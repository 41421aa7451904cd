"""The HTTP backend reads what Opentrons' robot server really answered: every recorded command
record parses, and the backend's questions (a command's result, a command by key, tips left
on, a robot taken by another client) get right answers from the recorded bodies, served by
a fake robot on an ``httpx.MockTransport``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from mscrobot.lab.opentrons import commands as c
from mscrobot.lab.opentrons.backend import result_from_json, trash_area
from mscrobot.lab.opentrons.http_backend import HttpBackend
from mscrobot.lab.protocols import DeviceFaultError, TransientDeviceError

REAL = Path(__file__).parent / "transcripts" / "real"
TRANSCRIPTS = sorted(REAL.glob("*/*.json"))
PLACEHOLDER = re.compile(r"<([a-z]+(?:-[a-z]+)*-\d+)>")


def _filled(value: Any) -> Any:
    """A recorded body with each placeholder as a readable id (``<run-id-1>`` → ``run-id-1``)."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: m.group(1), value)
    if isinstance(value, dict):
        return {k: _filled(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v) for v in value]
    return value


def _answer(robot: str, scenario: str, label: str) -> tuple[int, Any]:
    exchanges = json.loads((REAL / robot / f"{scenario}.json").read_text())["exchanges"]
    found = next(e for e in exchanges if e["label"] == label)
    return found["response"]["status"], _filled(found["response"]["body"])


class RecordedRobot:
    """Answers each (method, path) with a recorded answer; anything else is a test error."""

    def __init__(self, answers: dict[tuple[str, str], tuple[int, Any]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, str, dict[str, str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers.get("Opentrons-Version") == "4"  # every route needs it
        key = (request.method, request.url.path)
        self.asked.append((*key, dict(request.url.params)))
        assert key in self.answers, f"the backend asked {key}, not recorded here"
        status, body = self.answers[key]
        return httpx.Response(status, json=body)


def _backend(answers: dict[tuple[str, str], tuple[int, Any]],
             created: tuple[int, Any] | None = None) -> tuple[HttpBackend, RecordedRobot]:
    """A backend opened on a recorded OT-2 (health, no other run, ``created`` for POST /runs)."""
    robot = RecordedRobot({
        ("GET", "/health"): _answer("ot2-v8.1.0", "health", "GET /health, Opentrons-Version=4"),
        ("GET", "/runs"): _answer("ot2-v8.1.0", "runs-empty", "GET /runs with no runs"),
        ("GET", "/deck_configuration"): _answer("ot2-v8.1.0", "resources",
                                                "GET /deck_configuration"),
        ("GET", "/instruments"): _answer("ot2-v8.1.0", "resources", "GET /instruments"),
        ("GET", "/calibration/status"): _answer("ot2-v8.1.0", "resources",
                                                "GET /calibration/status"),
        ("POST", "/runs"): created or _answer("ot2-v8.1.0", "transfer", "create a run"),
        **answers})
    return HttpBackend("http://robot", "OT-2", transport=httpx.MockTransport(robot)), robot


def _records(path: Path) -> list[tuple[dict[str, Any], bool]]:
    """Every command record in a transcript's answers: (record, is a list item)."""
    out = []
    for exchange in json.loads(path.read_text())["exchanges"]:
        body, request = exchange["response"]["body"], exchange["request"]
        if not isinstance(body, dict) or "/commands" not in request["path"]:
            continue
        data = body.get("data")
        if isinstance(data, list):
            out += [(d, True) for d in data]
        elif isinstance(data, dict) and "commandType" in data:
            out.append((data, False))
    return out


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_recorded_command_parses(path: Path) -> None:
    for record, listed in _records(path):
        result = result_from_json(record)
        assert (result.id, result.command_type, result.status) == (
            record["id"], record["commandType"], record["status"])
        assert result.error_type == (record.get("error") or {}).get("errorType")
        assert result.result == (record.get("result") or {})
        if listed:  # the robot lists summaries: a result is only read by id
            assert "result" not in record and result.result == {}


def test_a_result_is_read_by_id_and_a_command_found_by_key() -> None:
    listed = _answer("ot2-v8.1.0", "commands-list",
                     "GET commands {'cursor': '0', 'pageLength': '200'}")
    backend, robot = _backend({
        ("GET", "/runs/run-id-1/commands"): listed,
        ("GET", "/runs/run-id-1/commands/command-id-25"):
            _answer("ot2-v8.1.0", "commands-list", "GET a known command"),
        ("GET", "/runs/run-id-1/commands/00000000-0000-0000-0000-000000000000"):
            _answer("ot2-v8.1.0", "commands-list", "GET an unknown command id"),
    })
    found = backend.find("op-b/20")
    assert found is not None and (found.id, found.status) == ("command-id-25", "succeeded")
    assert ("GET", "/runs/run-id-1/commands/command-id-25", {}) in robot.asked
    assert backend.find("op-z/0") is None  # never taken
    # the current run answers an unknown id with 500 (its engine raises): no such command
    assert backend.status("00000000-0000-0000-0000-000000000000") is None
    assert [r.command_type for r in backend.commands()][:2] == ["home", "loadPipette"]
    pages = [q for m, p, q in robot.asked if p == "/runs/run-id-1/commands"]
    assert pages and all(q == {"cursor": "0", "pageLength": "200"} for q in pages)


def test_a_stored_runs_unknown_command_is_none() -> None:
    backend, _ = _backend({
        ("GET", "/runs/run-id-1/commands/00000000-0000-0000-0000-000000000000"):
            _answer("ot2-v8.1.0", "runs-multi",
                    "GET an unknown command id on the non-current run")})
    assert backend.status("00000000-0000-0000-0000-000000000000") is None


def test_tips_left_are_read_from_the_runs_pipettes_and_its_command_summaries() -> None:
    """List items carry no ``loadPipette`` result: the mount of each pipette id comes from
    the run's ``pipettes``. The recorded transfer ends bare; cut after its second pick-up
    it ends holding a tip on the right."""
    run = _answer("ot2-v8.1.0", "transfer", "GET the run after the transfer")
    status, listed = _answer("ot2-v8.1.0", "transfer",
                             "GET all commands (cursor=0, pageLength=200, as the client pages)")
    assert all("result" not in d for d in listed["data"])
    cut = {**listed, "data": listed["data"][:14], "meta": {"cursor": 0, "totalLength": 14}}
    assert cut["data"][-1]["commandType"] == "pickUpTip"
    whole, _ = _backend({("GET", "/runs/run-id-1"): run,
                         ("GET", "/runs/run-id-1/commands"): (status, listed)})
    assert whole.tips_left(["run-id-1"]) == set()
    held, _ = _backend({("GET", "/runs/run-id-1"): run,
                        ("GET", "/runs/run-id-1/commands"): (status, cut)})
    assert held.tips_left(["run-id-1"]) == {"right"}


def test_a_takeover_is_a_fault_naming_the_other_run() -> None:
    """runs-multi: run B made while A was idle; A's next command answered 409 RunStopped."""
    backend, robot = _backend({
        ("POST", "/runs/run-id-1/commands"):
            _answer("ot2-v8.1.0", "runs-multi", "POST a command to run A (not current)"),
    })
    robot.answers[("GET", "/runs")] = _answer("ot2-v8.1.0", "runs-multi",
                                              "GET /runs with two runs")
    with pytest.raises(DeviceFaultError,
                       match=r"another client took the robot \(run run-id-2, created "):
        backend.send(c.home())


def test_a_robot_running_a_run_is_busy() -> None:
    with pytest.raises(TransientDeviceError, match="busy: RunAlreadyActive"):
        _backend({}, created=_answer("ot2-v8.1.0", "actions",
                                     "POST /runs while this run is running"))


def test_the_trash_is_where_the_robots_deck_configuration_has_it() -> None:
    """The recorded robots' decks: the OT-2's fixed trash, the Flex's bin in A3; a Flex's bin
    elsewhere or a waste chute is read the same way, a deck with neither has no trash."""
    for robot, trash in (("ot2-v8.1.0", "fixedTrash"), ("flex-v8.1.0", "movableTrashA3")):
        fixtures = _answer(robot, "resources", "GET /deck_configuration")[1]["data"]
        robot_type = "OT-2 Standard" if robot.startswith("ot2") else "OT-3 Standard"
        assert trash_area(robot_type, fixtures["cutoutFixtures"]) == trash
    backend, _ = _backend({})
    assert backend.trash == "fixedTrash"
    moved = [{"cutoutId": "cutoutA3", "cutoutFixtureId": "singleRightSlot"},
             {"cutoutId": "cutoutB1", "cutoutFixtureId": "trashBinAdapter"}]
    assert trash_area("OT-3 Standard", moved) == "movableTrashB1"
    chute = [{"cutoutId": "cutoutD3", "cutoutFixtureId": "wasteChuteRightAdapterNoCover"}]
    assert trash_area("OT-3 Standard", chute) == "1ChannelWasteChute"
    assert trash_area("OT-3 Standard", moved[:1]) is None
    no_deck = {("GET", "/deck_configuration"): (404, {"errors": [{"id": "BadRequest"}]})}
    assert _backend(no_deck)[0].trash == "fixedTrash"  # a robot from before deck configs


def _opened(robot: str, created: tuple[int, Any] | None = None,
            offsets: list[dict[str, Any]] | None = None,
            changed: dict[tuple[str, str], tuple[int, Any]] | None = None,
            ) -> tuple[HttpBackend, list[Any]]:
    """A backend opened on the recorded ``robot`` (``ot2-v8.1.0``, ``flex-v8.1.0``); with the
    bodies of its POST /runs."""
    posted: list[Any] = []
    answers = {
        ("GET", "/health"): _answer(robot, "health", "GET /health, Opentrons-Version=4"),
        ("GET", "/runs"): _answer(robot, "runs-empty", "GET /runs with no runs"),
        ("POST", "/runs"): created or _answer(robot, "transfer", "create a run"),
        **{("GET", path): _answer(robot, "resources", f"GET {path}")
           for path in ("/deck_configuration", "/instruments", "/calibration/status")},
        **(changed or {})}
    recorded = RecordedRobot(answers)

    def robot_answers(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/runs":
            posted.append(json.loads(request.content))
        return recorded(request)

    kind = "Flex" if robot.startswith("flex") else "OT-2"
    return HttpBackend("http://robot", kind, transport=httpx.MockTransport(robot_answers),
                       offsets=offsets), posted


def test_the_robots_software_pipettes_and_calibration_are_read_as_recorded() -> None:
    ot2, _ = _opened("ot2-v8.1.0")
    assert ot2.software == "8.1.0" and ot2.command_types is not None
    assert "airGapInPlace" not in ot2.command_types and "dropTipInPlace" in ot2.command_types
    assert ot2.attached == {"left": "p20_single_gen2", "right": "p300_single_gen2"}
    assert ot2.calibration == {"deck": "not calibrated (default)"}  # the simulator's identity
    assert ot2.found_run is None
    flex, _ = _opened("flex-v8.1.0")
    assert flex.attached == {"left": "p1000_single_flex", "right": "p50_single_flex"}
    assert flex.calibration == {"left": "not calibrated (default offset)",
                                "right": "not calibrated (default offset)",
                                "extension": "not calibrated (default offset)"}


def test_a_run_is_created_with_the_labs_offsets_and_keeps_the_robots_ids() -> None:
    offsets = [{"definitionUri": "opentrons/opentrons_96_tiprack_300ul/1",
                "location": {"slotName": "1"}, "vector": {"x": 0.5, "y": 0.0, "z": -0.25}}]
    backend, posted = _opened("ot2-v8.1.0", created=_answer(
        "ot2-v8.1.0", "run-offsets", "POST /runs with two labwareOffsets"), offsets=offsets)
    assert posted == [{"data": {"labwareOffsets": offsets}}]
    assert [o["id"] for o in backend.offsets] == ["labware-offset-id-1", "labware-offset-id-2"]
    plain, posted = _opened("ot2-v8.1.0")
    assert posted == [{"data": {}}] and plain.offsets == []


def test_a_deck_calibration_the_robot_calls_bad_is_refused_before_a_run() -> None:
    status, body = _answer("ot2-v8.1.0", "resources", "GET /calibration/status")
    bad = {**body, "deckCalibration": {**body["deckCalibration"], "status": "BAD_CALIBRATION"}}
    with pytest.raises(DeviceFaultError, match=r"reports its deck calibration bad "
                       r"\(recalibrate\): calibrate the deck"):
        _opened("ot2-v8.1.0", changed={("GET", "/calibration/status"): (status, bad)})
