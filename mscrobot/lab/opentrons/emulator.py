"""``mscrobot emulate opentrons``: the robot's HTTP API, the part mscrobot uses, on a PC.

The robot's own server runs on a PC only from a source checkout (Opentrons issue #15245), so
this serves the subset the HTTP backend speaks, with the robot's response shapes and status
codes, and executes commands on the in-process engine (``inprocess.py``), one per run:

- ``GET /health``
- ``POST /runs``, ``GET /runs/{id}``, ``PATCH /runs/{id}`` (``current: false``)
- ``POST /runs/{id}/labware_definitions``
- ``POST /runs/{id}/commands`` (``waitUntilComplete``, ``timeout`` in ms), ``GET .../commands``,
  ``GET .../commands/{commandId}``
- ``POST /runs/{id}/actions`` (``play``, ``pause``, ``stop``, ``resume-from-recovery``,
  ``resume-from-recovery-assuming-false-positive``; 409 where the run's state forbids it, as
  Opentrons' engine decides; a running run takes no setup commands)

Every request but ``/health`` needs the ``Opentrons-Version`` header, as on the robot (422
without it, 400 below version 2).

The robot's hardware outlives its runs: a pipette holding a tip when its run is stopped (a run
that never played drops no tips) still holds it in the next run, whose engine believes it bare.
The emulator keeps those tips: a ``pickUpTip`` on such a pipette fails as it would on the
robot, and ``dropTipInPlace`` (OT-2) or ``unsafe/dropTipInPlace`` (Flex) drops it. The
engine's virtual pipettes cannot hold a tip they did not pick up, so the emulator records
those two commands itself, in the robot's shape, among the engine's (assumed error text:
the engine's own ``TipAttachedError``). Fault injection for the
backend's tests (``--faults``, comma-separated): ``busy`` (another run is active: creating one
answers 409), ``drop@N`` (the N-th command POST, counted from 1, runs but the connection is
closed without an answer), ``slow@N`` (the N-th command POST waits ``timeout`` and answers with
the command still running, as a robot still moving would).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import opentrons as _opentrons
from opentrons.protocol_engine.errors import ProtocolEngineError

from mscrobot.lab.opentrons.backend import ROBOT_TYPES, tips_left
from mscrobot.lab.opentrons.commands import DROPS, InvalidCommandError, validate
from mscrobot.lab.opentrons.inprocess import InProcessBackend

#: The robot server's HTTP API versions (robot_server/versioning.py): a request asks for one
#: with ``Opentrons-Version`` (or ``*``: the latest) and is answered in min(asked, API_VERSION).
API_VERSION = 4
MIN_API_VERSION = 2


class HttpError(Exception):
    def __init__(self, status: int, error_id: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error_id, self.detail = status, error_id, detail

    def body(self) -> dict[str, Any]:
        title = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", self.error_id)
        return {"errors": [{"id": self.error_id, "title": title, "detail": self.detail}]}


@dataclass
class Faults:
    busy: bool = False
    drop: set[int] = field(default_factory=set)
    slow: set[int] = field(default_factory=set)

    @classmethod
    def parse(cls, plan: str) -> Faults:
        out = cls()
        for item in filter(None, (p.strip() for p in plan.split(","))):
            name, _, at = item.partition("@")
            if name == "busy" and not at:
                out.busy = True
            elif name in ("drop", "slow") and at.isdigit() and int(at) > 0:
                getattr(out, name).add(int(at))
            else:
                raise ValueError(f"unknown fault {item!r} (busy, drop@N, slow@N)")
        return out


@dataclass
class Run:
    id: str
    created_at: str
    robot: InProcessBackend
    current: bool = True
    actions: list[dict[str, Any]] = field(default_factory=list)
    #: mounts holding a tip from an earlier run, unknown to this run's engine
    inherited: set[str] = field(default_factory=set)
    #: commands the emulator answered itself, each after that many of the engine's
    extra: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """The run's commands in the order they were taken, as the robot lists them."""
        engine = self.robot.records()
        out: list[dict[str, Any]] = []
        extra = iter(self.extra)
        nxt = next(extra, None)
        for i, record in enumerate([*engine, None]):
            while nxt is not None and nxt[0] == i:
                out.append(nxt[1])
                nxt = next(extra, None)
            if record is not None:
                out.append(record)
        return out

    def tips_held(self) -> set[str]:
        return tips_left(self.records()) | self.inherited

    def mount_of(self, pipette_id: str) -> str | None:
        return next((r["params"]["mount"] for r in self.robot.records()
                     if r["commandType"] == "loadPipette" and r["status"] == "succeeded"
                     and (r.get("result") or {}).get("pipetteId") == pipette_id), None)

    def answer(self, cmd: dict[str, Any], error: str | None) -> dict[str, Any]:
        """A command the hardware carries out (or refuses) beyond the engine's knowledge."""
        now = _now()
        record = {"id": str(uuid.uuid4()), "key": cmd.get("key"),
                  "commandType": cmd["commandType"], "createdAt": now, "startedAt": now,
                  "completedAt": now, "status": "failed" if error else "succeeded",
                  "params": cmd.get("params") or {}, "result": None if error else {},
                  "intent": "setup", "notes": [],
                  "error": None if error is None else {
                      "id": str(uuid.uuid4()), "createdAt": now, "errorType": "TipAttachedError",
                      # 3012: UNEXPECTED_TIP_ATTACH, as the engine's own TipAttachedError
                      "errorCode": "3012", "detail": error, "errorInfo": {},
                      "wrappedErrors": [], "isDefined": False}}
        self.extra.append((len(self.robot.records()), record))
        return record

    def view(self) -> dict[str, Any]:
        summary = self.robot.summary()
        return {"id": self.id, "createdAt": self.created_at, "current": self.current,
                "actions": self.actions, **summary}


def _now() -> str:
    return datetime.now(UTC).isoformat()


class RobotEmulator:
    """The robot's state: its runs, one current; executes requests as the robot would."""

    def __init__(self, robot: str = "OT-2", faults: Faults | None = None) -> None:
        self.robot = robot
        self.robot_type = ROBOT_TYPES[robot]
        self.faults = faults or Faults()
        self.runs: dict[str, Run] = {}
        #: mounts whose pipette holds a tip no current run's engine knows of
        self.tips_on: set[str] = set()
        self.command_posts = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        for run in self.runs.values():
            run.robot.close()

    def health(self) -> dict[str, Any]:
        return {"name": f"mscrobot-emulated-{self.robot.lower()}", "robot_model": self.robot_type,
                "api_version": _opentrons.__version__, "fw_version": "emulated",
                "system_version": "emulated", "robot_serial": "emulator", "links": {}}

    def _run(self, run_id: str) -> Run:
        try:
            return self.runs[run_id]
        except KeyError:
            raise HttpError(404, "RunNotFound", f"Run {run_id} was not found.") from None

    def create_run(self) -> dict[str, Any]:
        with self._lock:
            active = [r for r in self.runs.values()
                      if r.current and r.robot.summary()["status"] not in ("stopped", "failed",
                                                                            "succeeded")]
            if self.faults.busy or active:
                raise HttpError(409, "RunAlreadyActive", "Cannot create a new run while "
                                "another run is active; stop it or let it finish first.")
            for r in self.runs.values():
                if r.current:
                    self.tips_on = r.tips_held()
                r.current = False
            run = Run(str(uuid.uuid4()), _now(), InProcessBackend(self.robot),
                      inherited=set(self.tips_on))
            self.runs[run.id] = run
            return run.view()

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self._run(run_id).view()

    def patch_run(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        run = self._run(run_id)
        if body.get("current") is False and run.current:
            self.tips_on = run.tips_held()
            run.current = False
        return run.view()

    def add_labware_definition(self, run_id: str, definition: dict[str, Any]) -> dict[str, Any]:
        run = self._run(run_id)
        try:
            uri = run.robot.add_labware_definition(definition)
        except ValueError as e:
            raise HttpError(422, "InvalidRequest", str(e).splitlines()[0]) from None
        return {"definitionUri": uri}

    def add_command(self, run_id: str, cmd: dict[str, Any], wait: bool,
                    timeout_ms: int | None) -> dict[str, Any] | None:
        """The command as recorded, or None when the connection is to be dropped."""
        run = self._run(run_id)
        with self._lock:
            self.command_posts += 1
            n = self.command_posts
        if not run.current:
            raise HttpError(409, "RunNotCurrent", f"Run {run_id} is not the current run.")
        held = self._inherited_tip(run, cmd)
        if held is not None:
            return None if n in self.faults.drop else held
        try:
            if n in self.faults.slow:
                record = run.robot.execute(cmd, wait=False)
                time.sleep((timeout_ms or 0) / 1000.0)
                return {**record, "status": "running", "completedAt": None, "result": None}
            record = run.robot.execute(cmd, wait=wait,
                                       timeout_s=None if timeout_ms is None else timeout_ms / 1e3)
        except InvalidCommandError as e:
            raise HttpError(422, "InvalidRequest", str(e)) from None
        except ProtocolEngineError as e:
            raise HttpError(409, type(e).__name__.removesuffix("Error"), e.message) from None
        return None if n in self.faults.drop else record

    def _inherited_tip(self, run: Run, cmd: dict[str, Any]) -> dict[str, Any] | None:
        """A pick-up or drop on a pipette holding an earlier run's tip, as the hardware
        answers it; None: the engine takes the command."""
        if not run.inherited:
            return None
        try:
            validate(cmd)
        except InvalidCommandError:
            return None  # the engine's path answers 422
        mount = run.mount_of(str((cmd.get("params") or {}).get("pipetteId", "")))
        if mount is None or mount not in run.inherited:
            return None
        if cmd["commandType"] == "pickUpTip":
            return run.answer(cmd, "Pipette should not have a tip attached, but does.")
        if cmd["commandType"] in DROPS:
            run.inherited.discard(mount)
            return run.answer(cmd, None)
        return None

    def get_command(self, run_id: str, command_id: str) -> dict[str, Any]:
        run = self._run(run_id)
        extra = next((r for _, r in run.extra if r["id"] == command_id), None)
        if extra is not None:
            return extra
        record = run.robot.record(command_id)
        if record is None:
            raise HttpError(404, "CommandNotFound", f"Command {command_id} not found.")
        return record

    def list_commands(self, run_id: str, cursor: int, length: int) -> dict[str, Any]:
        records = self._run(run_id).records()
        page = records[cursor:cursor + length]
        return {"data": page, "meta": {"cursor": cursor, "totalLength": len(records)},
                "links": {}}

    def add_action(self, run_id: str, action_type: str) -> dict[str, Any]:
        run = self._run(run_id)
        if action_type not in ACTIONS:
            raise HttpError(422, "InvalidRequest", f"actionType: {action_type!r} is not one "
                            f"of {', '.join(ACTIONS)}")
        if not run.current:
            raise HttpError(409, "RunNotCurrent", f"Run {run_id} is not the current run.")
        try:
            run.robot.act(action_type)
        except ProtocolEngineError as e:
            raise HttpError(409, "RunActionNotAllowed", e.message) from None
        action = {"id": str(uuid.uuid4()), "createdAt": _now(), "actionType": action_type}
        run.actions.append(action)
        return action


#: The robot's run action types (robot_server's ``RunActionType``).
ACTIONS = ("play", "pause", "stop", "resume-from-recovery",
           "resume-from-recovery-assuming-false-positive")

ROUTES = [
    ("GET", re.compile(r"^/health$"), "health"),
    ("POST", re.compile(r"^/runs$"), "create_run"),
    ("GET", re.compile(r"^/runs/(?P<run>[^/]+)$"), "get_run"),
    ("PATCH", re.compile(r"^/runs/(?P<run>[^/]+)$"), "patch_run"),
    ("POST", re.compile(r"^/runs/(?P<run>[^/]+)/labware_definitions$"), "labware"),
    ("POST", re.compile(r"^/runs/(?P<run>[^/]+)/commands$"), "post_command"),
    ("GET", re.compile(r"^/runs/(?P<run>[^/]+)/commands$"), "list_commands"),
    ("GET", re.compile(r"^/runs/(?P<run>[^/]+)/commands/(?P<cmd>[^/]+)$"), "get_command"),
    ("POST", re.compile(r"^/runs/(?P<run>[^/]+)/actions$"), "action"),
]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    _raw = b""

    def setup(self) -> None:
        """No Nagle: a reply's header and body are two writes, and a client waiting for the
        body behind a delayed ACK would make each command take ~40 ms."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the robot's access log is not the user's business."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _reply(self, status: int, body: dict[str, Any], version: int = API_VERSION) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Opentrons-Version", str(version))
        self.send_header("Opentrons-Min-Version", str(MIN_API_VERSION))
        self.end_headers()
        self.wfile.write(data)

    def _version(self, path: str) -> int:
        """The version this request is answered in, as the robot's check_version_header."""
        asked = self.headers.get("Opentrons-Version")
        if path == "/health":  # answered to any client, so old ones can find the robot
            return API_VERSION
        if asked is None or not (asked == "*" or asked.strip().isdigit()):
            raise HttpError(422, "InvalidRequest", "Opentrons-Version header: an integer or "
                            f"'*' is required (got {asked!r})")
        version = API_VERSION if asked == "*" else min(API_VERSION, int(asked))
        if version < MIN_API_VERSION:
            raise HttpError(400, "OutdatedAPIVersion", f"The requested API version "
                            f"'{version}' is not supported. 'Opentrons-Version' must be at "
                            f"least '{MIN_API_VERSION}'.")
        return version

    def _body(self) -> dict[str, Any]:
        if not self._raw:
            return {}
        try:
            body = json.loads(self._raw)
        except json.JSONDecodeError as e:
            raise HttpError(422, "InvalidRequest", f"body is not JSON: {e}") from None
        if not isinstance(body, dict) or not isinstance(body.get("data", {}), dict):
            raise HttpError(422, "InvalidRequest", "body must be {\"data\": {...}}")
        return body.get("data", {})

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        # read the whole request first: a reply to a half-read one would corrupt the next
        # request on this kept-alive connection
        self._raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        version = API_VERSION
        try:
            version = self._version(url.path)
            for verb, pattern, name in ROUTES:
                m = pattern.match(url.path)
                if m and verb == method:
                    status, body = getattr(self, "_" + name)(query, **m.groupdict())
                    if body is None:  # a dropped connection (fault injection)
                        self.close_connection = True
                        self.connection.close()
                        return
                    self._reply(status, body, version)
                    return
            raise HttpError(404, "RouteNotFound", f"{method} {url.path} is not served here")
        except HttpError as e:
            self._reply(e.status, e.body(), version)

    # --- routes: each returns (status, body) -------------------------------------------------

    def _health(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, self.server.robot.health()

    def _create_run(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self._body()
        return 201, {"data": self.server.robot.create_run()}

    def _get_run(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        return 200, {"data": self.server.robot.get_run(run)}

    def _patch_run(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        return 200, {"data": self.server.robot.patch_run(run, self._body())}

    def _labware(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        return 201, {"data": self.server.robot.add_labware_definition(run, self._body())}

    def _post_command(self, query: dict[str, str],
                      run: str) -> tuple[int, dict[str, Any] | None]:
        wait = query.get("waitUntilComplete", "false").lower() == "true"
        timeout = int(query["timeout"]) if query.get("timeout", "").isdigit() else None
        record = self.server.robot.add_command(run, self._body(), wait, timeout)
        return 201, None if record is None else {"data": record}

    def _list_commands(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        cursor = int(query.get("cursor", "0") or 0)
        length = int(query.get("pageLength", "20") or 20)
        return 200, self.server.robot.list_commands(run, cursor, length)

    def _get_command(self, query: dict[str, str], run: str,
                     cmd: str) -> tuple[int, dict[str, Any]]:
        return 200, {"data": self.server.robot.get_command(run, cmd)}

    def _action(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        action_type = str(self._body().get("actionType", ""))
        return 201, {"data": self.server.robot.add_action(run, action_type)}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], robot: RobotEmulator) -> None:
        super().__init__(address, _Handler)
        self.robot = robot


def serve(robot: RobotEmulator, host: str = "127.0.0.1", port: int = 31950) -> _Server:
    """A server bound to ``host:port`` (port 0: any free one); call ``serve_forever``."""
    return _Server((host, port), robot)


def run(port: int = 31950, host: str = "127.0.0.1", robot: str = "OT-2",
        faults: str = "") -> None:
    """Serve until interrupted; prints ``HOST:PORT`` on the first line."""
    emulator = RobotEmulator(robot, Faults.parse(faults))
    server = serve(emulator, host, port)
    print(f"{server.server_address[0]}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        emulator.close()
        sys.stdout.flush()
