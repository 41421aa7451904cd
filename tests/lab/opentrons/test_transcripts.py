"""The robot emulator held to Opentrons' own robot server: every recorded exchange replayed.

``transcripts/real/<robot>-v<version>/<scenario>.json`` are what robot-server answered (see
``transcripts/README.md``). Each file is played, request by request, against a fresh
``mscrobot emulate opentrons`` of that robot and version, holding the instruments the robot
had (its recorded ``GET /instruments``), on a loopback port. Per exchange: the same status,
the same version headers, the same keys all the way down (lists item by item), the same
values where they mean something (statuses, command types, error ids and codes, counts,
cursors, names) and the same ids where the robot's repeat (a placeholder such as
``<run-id-1>`` stands for whatever the emulator handed out first there, and must stand for it
everywhere after). A new recording needs no new code.

A stop finishes asynchronously on the robot, so a request sent at once after one (labelled
"at once" or "timing-dependent", and a "release" PATCH) may find the run still stopping or
already stopped. The emulator's stop takes longer than a request, so it answers as a robot
still stopping; where the recorded robot had already finished, the replay waits for the stop
and sends the request again, and that answer is compared. Every other request is sent once
no stop is pending (the recorded robot had finished by then), and "N s after" in a label is
waited for.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from mscrobot.lab.opentrons.emulator import RobotEmulator, serve

HERE = Path(__file__).parent
TRANSCRIPTS = sorted((HERE / "transcripts").glob("real/*/*.json"))

#: Routes the emulator does not serve: the calibration, settings and motors of a physical
#: robot, which it has none of. It answers them as the robot answers a route it does not
#: have (checked), so a client sees "not here", never made-up calibration.
NOT_SERVED = {"/calibration/status", "/settings", "/settings/robot", "/robot/positions",
              "/motors/engaged"}

#: Where the recorded robot's simulated hardware answers differently from a robot, and the
#: emulator answers as a robot: (robot folder prefix, scenario, label) → problems allowed.
KNOWN = {
    ("flex", "resources", "GET /instruments"): {
        # the OT-3 hardware simulator reports firmware only for the left pipette and the
        # gripper (the right's simulated version is 0, which the server leaves out); every
        # Flex instrument has firmware, and the emulator says so
        "data[1]: keys only in the emulator's answer: ['firmwareVersion']"},
}

#: Values compared as they are; any other value is compared by its JSON type only.
SEMANTIC = frozenset({
    "status", "current", "commandType", "intent", "errorType", "errorCode", "actionType",
    "ok", "isDefined", "totalLength", "cursor", "index", "pipetteName", "mount", "loadName",
    "namespace", "definitionUri", "robot_model", "api_version", "instrumentName",
    "instrumentType", "cutoutId", "cutoutFixtureId", "subsystem", "wellName", "channels",
    "min_volume", "max_volume", "tipDetected", "jawState", "hasEverEnteredErrorRecovery",
    "addressableAreaName", "slotName", "displayName", "message",
})
#: Free text: the engine's wording differs between versions; compared by type only.
TEXT = frozenset({"detail", "title", "message", "description"})
PLACEHOLDER = re.compile(r"<([a-z]+(?:-[a-z]+)*-\d+)>")
OPAQUE = {"<timestamp>", "<robot-name>", "<traceback>", "<path>"}
HASH_KEY = re.compile(r"^[0-9a-f]{32}$")
DELAY = re.compile(r"(\d+(?:\.\d+)?) s (?:after|later)")
#: How long the emulator's stops take here: far longer than a request, so a request sent at
#: once after a stop always finds the run still stopping.
STOP_S = 1.0


def _at_once(label: str) -> bool:
    return ("at once" in label or "timing-dependent" in label
            or label.startswith("release a run made earlier in this scenario: PATCH"))


def _still_stopping(status: int, body: Any) -> bool:
    if status == 409 and isinstance(body, dict):
        return (body.get("errors") or [{}])[0].get("id") in ("RunNotIdle", "RunAlreadyActive")
    return (status == 200 and isinstance(body, dict) and isinstance(body.get("data"), dict)
            and body["data"].get("status") == "stop-requested")


def _attached(folder: Path, profile: dict[str, Any]) -> tuple[dict[str, str], bool]:
    """The robot's instruments, from its recorded ``GET /instruments`` where there is one."""
    resources = folder / "resources.json"
    if resources.exists():
        for exchange in json.loads(resources.read_text())["exchanges"]:
            if exchange["request"]["path"] == "/instruments":
                items = exchange["response"]["body"]["data"]
                return ({i["mount"]: i["instrumentName"] for i in items
                         if i["instrumentType"] == "pipette"},
                        any(i["instrumentType"] == "gripper" for i in items))
    return {"right": profile["pipette"]}, False


@dataclass
class Replay:
    """One transcript played against one emulator; ``problems`` says where they differ."""

    ids: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    resent: int = 0
    not_served: int = 0

    def fill(self, value: Any) -> Any:
        """A recorded request with the emulator's ids in place of the placeholders."""
        if isinstance(value, str):
            return PLACEHOLDER.sub(lambda m: self.ids.get(m.group(0), m.group(0)), value)
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value

    def compare(self, rec: Any, act: Any, path: str, key: str = "") -> list[str]:
        where = path or "body"
        if isinstance(rec, dict):
            if not isinstance(act, dict):
                return [f"{where}: an object recorded, the emulator gave {act!r:.80}"]
            out = []
            if set(rec) != set(act):
                if set(rec) - set(act):
                    out.append(f"{where}: keys only in the robot's answer: "
                               f"{sorted(set(rec) - set(act))}")
                if set(act) - set(rec):
                    out.append(f"{where}: keys only in the emulator's answer: "
                               f"{sorted(set(act) - set(rec))}")
            for k in rec.keys() & act.keys():
                out += self.compare(rec[k], act[k], f"{path}.{k}" if path else k, k)
            return out
        if isinstance(rec, list):
            if not isinstance(act, list):
                return [f"{where}: a list recorded, the emulator gave {act!r:.80}"]
            out = [] if len(rec) == len(act) else [
                f"{where}: {len(rec)} item(s) recorded, the emulator gave {len(act)}"]
            for i, (r, a) in enumerate(zip(rec, act, strict=False)):
                out += self.compare(r, a, f"{path}[{i}]", key)
            return out
        if isinstance(rec, str):
            return self._string(rec, act, where, key)
        if rec is None or isinstance(rec, bool):
            ok = act is rec if key in SEMANTIC or rec is None else isinstance(act, bool)
            return [] if ok else [f"{where}: {rec!r} recorded, the emulator gave {act!r}"]
        if not isinstance(act, int | float) or isinstance(act, bool):
            return [f"{where}: a number recorded, the emulator gave {act!r:.80}"]
        if key in SEMANTIC and rec != act:
            return [f"{where}: {rec!r} recorded, the emulator gave {act!r}"]
        return []

    def _string(self, rec: str, act: Any, where: str, key: str) -> list[str]:
        if rec.startswith("<elided:"):
            return [] if act is not None else [f"{where}: the emulator gave nothing"]
        if not isinstance(act, str):
            return [f"{where}: a string recorded, the emulator gave {act!r:.80}"]
        whole = PLACEHOLDER.fullmatch(rec)
        if whole:
            bound = self.ids.setdefault(rec, act)
            return [] if bound == act else [
                f"{where}: {rec} is {bound!r}, but the emulator gave {act!r} here"]
        if rec in OPAQUE or key in TEXT:
            return []
        if PLACEHOLDER.search(rec):  # a path naming ids (href): the same ids, bound as found
            names: list[str] = []

            def group(m: re.Match[str]) -> str:
                if m.group(0) in self.ids:
                    return re.escape(self.ids[m.group(0)])
                names.append(m.group(0))
                return r"([^/]+)"

            pattern = PLACEHOLDER.sub(group, re.escape(rec).replace(r"\<", "<").replace(
                r"\>", ">").replace(r"\-", "-"))
            found = re.fullmatch(pattern, act)
            if found is None:
                return [f"{where}: {rec!r} recorded, the emulator gave {act!r}"]
            self.ids.update(zip(names, found.groups(), strict=True))
            return []
        if key == "key" and HASH_KEY.match(rec):  # a protocol command's hash
            return []
        if key in SEMANTIC or key == "key" or (key == "id" and where.startswith("errors[")):
            return [] if rec == act else [f"{where}: {rec!r} recorded, the emulator gave {act!r}"]
        return []


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items()
            if k in ("opentrons-version", "opentrons-min-version")}


def _send(client: httpx.Client, replay: Replay, request: dict[str, Any]) -> httpx.Response:
    body = request["body"]
    content = None if body is None else (body if isinstance(body, str) else json.dumps(
        replay.fill(body))).encode()
    headers = dict(request["headers"])
    if content is not None:
        headers["Content-Type"] = "application/json"
    return client.request(request["method"], replay.fill(request["path"]),
                          params=replay.fill(request["query"]), headers=headers,
                          content=content)


def play(path: Path) -> Replay:
    """Replay one transcript against a fresh emulator; the differences are in ``problems``."""
    transcript = json.loads(path.read_text())
    meta = transcript["meta"]
    robot = {"ot2": "OT-2", "flex": "Flex"}[meta["robot"]]
    pipettes, gripper = _attached(path.parent, meta["profile"])
    emulator = RobotEmulator(robot, version=meta["api_version"], pipettes=pipettes,
                             gripper=gripper, stop_s=STOP_S)
    server = serve(emulator, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    replay = Replay()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_address[1]}",
                          timeout=90.0) as client:
            for n, exchange in enumerate(transcript["exchanges"], 1):
                label, request = exchange["label"], exchange["request"]
                recorded = exchange["response"]
                if request["path"] in NOT_SERVED:
                    answer = _send(client, replay, request)
                    errors = answer.json().get("errors") or [{}]
                    if (answer.status_code, errors[0].get("id")) != (404, "BadRequest"):
                        replay.problems.append(f"#{n} {label}: served, but not emulated")
                    replay.not_served += 1
                    continue
                if not _at_once(label):
                    emulator.settle()
                if found := DELAY.search(label):
                    time.sleep(float(found.group(1)))
                answer = _send(client, replay, request)
                body = answer.json() if answer.content else None
                if (_at_once(label) and _still_stopping(answer.status_code, body)
                        and not _still_stopping(recorded["status"], recorded["body"])):
                    emulator.settle()  # the recorded robot had finished stopping
                    answer = _send(client, replay, request)
                    body = answer.json() if answer.content else None
                    replay.resent += 1
                problems = [] if answer.status_code == recorded["status"] else [
                    f"status {recorded['status']} recorded, the emulator gave "
                    f"{answer.status_code}: {answer.text:.300}"]
                if set(_headers(answer)) != set(recorded["headers"]) - {"content-type"}:
                    problems.append(f"version headers {sorted(recorded['headers'])} recorded, "
                                    f"the emulator sent {sorted(_headers(answer))}")
                if not problems:
                    problems = replay.compare(recorded["body"], body, "")
                    allowed = next((v for (prefix, scenario, name), v in KNOWN.items()
                                    if path.parent.name.startswith(prefix)
                                    and scenario == path.stem and name == label), set())
                    problems = [p for p in problems if p not in allowed]
                replay.problems += [f"#{n} {label} ({request['method']} {request['path']}): "
                                    f"{p}" for p in problems]
                replay.checked += 1
    finally:
        emulator.settle()
        server.shutdown()
        server.server_close()
        emulator.close()
    return replay


def _slow(path: Path) -> bool:
    """A transcript that takes seconds to replay (the robot's waits, 'N s later', the
    emulator's stops of ``STOP_S``): an end-to-end test."""
    exchanges = json.loads(path.read_text())["exchanges"]
    waited = sum(e.get("elapsed_s", 0) for e in exchanges)
    waited += sum(float(m.group(1)) for e in exchanges if (m := DELAY.search(e["label"])))
    waited += STOP_S * sum(isinstance(e["request"]["body"], dict) and (
        e["request"]["body"].get("data") or {}).get("actionType") == "stop" for e in exchanges)
    return waited >= 2


def _params() -> Iterator[Any]:
    for path in TRANSCRIPTS:
        marks = [pytest.mark.slow] if _slow(path) else []
        yield pytest.param(path, id=f"{path.parent.name}/{path.stem}", marks=marks)


def test_there_are_transcripts_of_both_robots() -> None:
    robots = {p.parent.name.split("-")[0] for p in TRANSCRIPTS}
    assert robots == {"ot2", "flex"} and len(TRANSCRIPTS) >= 20


@pytest.mark.parametrize("path", list(_params()))
def test_the_emulator_answers_as_the_robot_did(path: Path) -> None:
    replay = play(path)
    total = len(json.loads(path.read_text())["exchanges"])
    assert replay.checked + replay.not_served == total
    print(f"{path.parent.name}/{path.stem}: {replay.checked} exchanges checked, "
          f"{replay.resent} re-sent after a stop, {replay.not_served} not served")
    assert not replay.problems, "\n".join(replay.problems)


def test_the_comparison_catches_a_difference() -> None:
    """The replay's own check: a wrong status, a missing key, an id used twice differently
    and a wrong error code are each reported."""
    replay = Replay()
    recorded = {"data": {"id": "<run-id-1>", "status": "idle", "errors": [
        {"id": "RunStopped", "errorCode": "4000"}]}, "links": {"href": "/runs/<run-id-1>"}}
    same = {"data": {"id": "abc", "status": "idle", "errors": [
        {"id": "RunStopped", "errorCode": "4000"}]}, "links": {"href": "/runs/abc"}}
    assert replay.compare(recorded, same, "") == []
    assert replay.ids == {"<run-id-1>": "abc"}
    wrong = {"data": {"id": "xyz", "status": "running", "errors": [
        {"id": "RunStopped", "errorCode": "4001", "meta": {}}]}, "links": {"href": "/runs/q"}}
    problems = replay.compare(recorded, wrong, "")
    assert any("<run-id-1> is 'abc'" in p for p in problems)
    assert any("'idle' recorded, the emulator gave 'running'" in p for p in problems)
    assert any("'4000' recorded, the emulator gave '4001'" in p for p in problems)
    assert any("keys only in the emulator's answer: ['meta']" in p for p in problems)
    assert any("/runs/<run-id-1>" in p for p in problems)
