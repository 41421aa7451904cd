"""``mscrobot emulate opentrons``: the robot's HTTP API on a PC, held to the robot's own answers.

The robot's own server runs on a PC only from a source checkout (Opentrons issue #15245), so
this serves what an orchestrator uses of it, measured against what Opentrons' robot server
answered (transcripts in ``tests/lab/opentrons/transcripts/``, replayed against this emulator
by ``tests/lab/opentrons/test_transcripts.py``). Each run executes on Opentrons' own engine
(``inprocess.py``), set up as the robot's server sets up a run: the instruments the robot has
(``pipettes``; on an OT-2 a wrong model, or a pipette on an empty mount, fails to load with
Opentrons' ``FailedToLoadPipetteError``), its default deck configuration, waits and pauses
that take their time. What the robot does and this emulator does too:

- ``POST /runs`` while the current run is idle (never played) or over ends that run
  (``stopped``, ``current: false``) and makes a new one: a robot has no owner, so another
  client's idle run is taken over without a word. Only a run that is running, paused or still
  stopping refuses (409 ``RunAlreadyActive``).
- A stop finishes later (``stop_s``): until then the run reads ``stop-requested``, a
  ``PATCH current:false`` answers 409 ``RunNotIdle`` and a new run 409 ``RunAlreadyActive``.
- Writes to a run that is not current answer 409 ``RunStopped`` ("… is not the current run").
- ``GET /runs/{id}/commands`` lists command summaries, never ``result``; without a cursor it
  gives the last page, and a cursor past the end gives the last command (as the robot pages).
  ``GET /runs/{id}/commands/{commandId}`` has the result; an unknown id answers 500 on the
  current run and 404 on any other (the robot reads one from its engine, the other from its
  store).
- A command without ``intent`` runs as a setup command.
- ``/health`` needs ``Opentrons-Version`` like every other route.
- Ending a run resets what the robot's software knows of its tips (each run's engine starts
  with fresh hardware state), while a tip on a pipette stays on: the emulator keeps the
  physical tips and records a pick-up onto a tip the software forgot (``incidents``, also
  printed), which the robot's server answers as a success.
- Labware offsets (in ``POST /runs`` and ``POST /runs/{id}/labware_offsets``) are picked up
  by later loads; ``GET /instruments``, ``/pipettes``, ``/modules``, ``/deck_configuration``,
  ``/protocols``, ``/robot/lights``, ``/system/time`` answer as the robot does;
  ``PUT /deck_configuration`` moves the trash (a Flex's bin to another corner, a waste
  chute) for the runs made after it.

``version`` picks the robot software whose answers are served (``VERSIONS``): ``8.1.0`` as
recorded (no ``airGapInPlace``, no ``GET /runs/{id}/currentState``, the shapes of its
records), or ``8.8.2``, the engine's own command set with the routes and fields the robot's
server added after 8.1.0. Calibration, settings and motor routes are not served (404, as any
route the robot does not have).

Fault injection for the backend's tests (``--faults``, comma-separated): ``busy`` (another run
is active: creating one answers 409), ``drop@N`` (the N-th command POST, counted from 1, runs
but the connection is closed without an answer), ``slow@N`` (the N-th command POST waits
``timeout`` and answers with the command still running, as a robot still moving would).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opentrons.protocol_engine import errors as pe_errors
from pydantic import ValidationError

from mscrobot.lab.opentrons.backend import ROBOT_TYPES
from mscrobot.lab.opentrons.commands import DROPS
from mscrobot.lab.opentrons.inprocess import (
    DECK_CONFIGURATIONS,
    InProcessBackend,
    pipette_model,
    pipette_serial,
)
from mscrobot.lab.opentrons.versions import COMMANDS_8_1

#: The robot server's HTTP API versions (robot_server/versioning.py): a request asks for one
#: with ``Opentrons-Version`` (or ``*``: the latest) and is answered in min(asked, API_VERSION).
API_VERSION = 4
MIN_API_VERSION = 2
#: Commands per page of ``GET /runs/{id}/commands`` when the request does not say.
PAGE_LENGTH = 20
TERMINAL = frozenset({"stopped", "failed", "succeeded"})

@dataclass(frozen=True)
class ServerVersion:
    """What one release of the robot's server answers, where the emulator's engine differs."""

    name: str
    #: command types it takes; None: the engine's own
    commands: frozenset[str] | None
    actions: tuple[str, ...]
    current_state: bool
    max_protocol_api: tuple[int, int]
    #: fields of the engine's records this release does not have (dropped from answers)
    drop_run_fields: frozenset[str] = frozenset()
    drop_offset_fields: frozenset[str] = frozenset()
    drop_result_fields: frozenset[str] = frozenset()
    drop_well_location_fields: frozenset[str] = frozenset()
    #: command type → parameters it does not have
    drop_params: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: kinds of note the engine adds to a command that this release does not
    drop_note_kinds: frozenset[str] = frozenset()
    #: a command has notes only once it finished (none while queued or running)
    notes_when_done: bool = False
    #: fields it adds to a run (each an empty list until something fills it)
    run_lists: tuple[str, ...] = ()


VERSIONS = {
    "8.1.0": ServerVersion(
        "8.1.0", COMMANDS_8_1, ("play", "pause", "stop", "resume-from-recovery"),
        current_state=False, max_protocol_api=(2, 20),
        drop_run_fields=frozenset({"wells", "files", "liquidClasses", "tasks",
                                   "cameraSettings"}),
        drop_offset_fields=frozenset({"locationSequence"}),
        drop_result_fields=frozenset({"locationSequence"}),
        drop_well_location_fields=frozenset({"volumeOffset"}),
        drop_params={"dropTip": frozenset({"scrape_tips"})},
        drop_note_kinds=frozenset({"debugErrorRecovery"}), notes_when_done=True),
    "8.8.2": ServerVersion(
        "8.8.2", None, ("play", "pause", "stop", "resume-from-recovery",
                        "resume-from-recovery-assuming-false-positive"),
        current_state=True, max_protocol_api=(2, 27), run_lists=("outputFileIds",)),
}
DEFAULT_VERSION = "8.8.2"

#: The instruments of the shipped labs' robot (``hardware/labs/``; a Flex as the recorded
#: one): what ``mscrobot emulate opentrons`` holds unless told.
DEFAULT_PIPETTES = {"OT-2": {"left": "p1000_single_gen2", "right": "p300_single_gen2"},
                    "Flex": {"left": "p1000_single_flex", "right": "p50_single_flex"}}

_TITLES = {
    "InvalidRequest": "Invalid Request", "RunNotFound": "Run Not Found",
    "RunStopped": "Run Stopped", "RunAlreadyActive": "Run Already Active",
    "RunNotIdle": "Run is not idle.", "RunActionNotAllowed": "Run Action Not Allowed",
    "SetupCommandNotAllowed": "Setup Command Not Allowed",
    "CommandNotAllowed": "Command Not Allowed", "CommandNotFound": "Run Command Not Found",
    "UnexpectedError": "Unexpected Internal Error", "BadRequest": "Bad Request",
    "OutdatedAPIVersion": "Requested HTTP API version no longer supported",
    "NoCurrentRunFound": "No current run found",
    "InvalidDeckConfiguration": "Invalid Deck Configuration",
}


class HttpError(Exception):
    """An error answer in the robot's shape: ``{"errors": [{id, title, detail, errorCode,
    source?, meta?}]}``, or the legacy ``{"message", "errorCode"}`` of its older routes."""

    def __init__(self, status: int, error_id: str, detail: str, code: str = "4000",
                 source: dict[str, str] | None = None, meta: dict[str, Any] | None = None,
                 more: list[dict[str, Any]] | None = None, legacy: bool = False) -> None:
        super().__init__(detail)
        self.status, self.error_id, self.detail, self.code = status, error_id, detail, code
        self.source, self.meta, self.more, self.legacy = source, meta, more or [], legacy

    def body(self) -> dict[str, Any]:
        if self.legacy:
            return {"message": self.detail, "errorCode": self.code}
        first: dict[str, Any] = {"id": self.error_id, "title": _TITLES.get(self.error_id,
                                                                         self.error_id),
                                 "detail": self.detail}
        if self.source is not None:
            first["source"] = self.source
        if self.meta is not None:
            first["meta"] = self.meta
        first["errorCode"] = self.code
        return {"errors": [first, *self.more]}


def _invalid(problems: list[tuple[str, dict[str, str]]]) -> HttpError:
    """A 422 naming each problem (detail, source), as the robot's request validation."""
    items = [{"id": "InvalidRequest", "title": "Invalid Request", "detail": detail,
              "source": source, "errorCode": "4000"} for detail, source in problems]
    return HttpError(422, "InvalidRequest", problems[0][0], source=problems[0][1],
                     more=items[1:])


def _meta(e: BaseException, as_type: str | None = None, code: str | None = None,
          wrapping: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An Opentrons error as the robot's server describes it in an error's ``meta``."""
    enumerated = isinstance(e, pe_errors.ProtocolEngineError)
    own_code = e.code.value.code if enumerated else "4000"
    message = e.message if enumerated else str(e)
    return {"type": as_type or type(e).__name__, "code": code or own_code, "message": message,
            "detail": dict(e.detail) if enumerated else {},
            "wrapping": wrapping if wrapping is not None else
            [_meta(w) for w in (e.wrapping if enumerated else [])]}


def _from_engine(status: int, error_id: str, e: BaseException) -> HttpError:
    meta = _meta(e)
    return HttpError(status, error_id, meta["message"], meta["code"], meta=meta)


def _not_current(run_id: str) -> HttpError:
    return HttpError(409, "RunStopped", f"Run {run_id} is not the current run")


def _prune(value: Any) -> Any:
    """Without null fields, as the robot's server leaves them out of its /runs answers."""
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


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
    #: its engine while current; None once let go (the robot then answers from its store)
    engine: InProcessBackend | None
    current: bool = True
    actions: list[dict[str, Any]] = field(default_factory=list)
    #: a stop was asked for and has not finished yet
    stopping: bool = False
    #: the run as the robot's store keeps it, once let go
    stored_summary: dict[str, Any] | None = None
    stored_commands: list[dict[str, Any]] | None = None
    #: how many of its commands the physical tips were followed through
    seen: int = 0

    def summary(self) -> dict[str, Any]:
        if self.engine is not None:
            return self.engine.summary()
        assert self.stored_summary is not None
        return self.stored_summary

    def records(self) -> list[dict[str, Any]]:
        if self.engine is not None:
            return self.engine.records()
        return list(self.stored_commands or [])

    def status(self) -> str:
        status = str(self.summary()["status"])
        return "stop-requested" if self.stopping and status not in TERMINAL else status

    def okay_to_clear(self) -> bool:
        """Idle (never played) or over, and no stop pending: a new run may replace it."""
        return not self.stopping and (self.engine is None or self.engine.okay_to_clear())


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _command_models() -> dict[str, str]:
    """Each command type's create model name (``aspirate`` → ``AspirateCreate``), which the
    robot names in a 422's ``source.pointer``."""
    from opentrons.protocol_engine.commands import CommandCreate

    union = typing.get_args(CommandCreate)[0]
    return {str(m.model_fields["commandType"].default): m.__name__
            for m in typing.get_args(union)}


class RobotEmulator:
    """The robot: its runs (one current), its instruments and the tips physically on them."""

    def __init__(self, robot: str = "OT-2", faults: Faults | None = None,
                 version: str = DEFAULT_VERSION, pipettes: Mapping[str, str] | None = None,
                 gripper: bool | None = None, stop_s: float = 0.3,
                 on_incident: Callable[[str], None] | None = None) -> None:
        if version not in VERSIONS:
            raise ValueError(f"unknown robot software {version!r} ({', '.join(VERSIONS)})")
        self.robot = robot
        self.robot_type = ROBOT_TYPES[robot]
        self.version = VERSIONS[version]
        self.pipettes = dict(DEFAULT_PIPETTES[robot] if pipettes is None else pipettes)
        from opentrons_shared_data.pipette.types import PipetteNameType

        for mount, name in self.pipettes.items():
            if mount not in ("left", "right"):
                raise ValueError(f"no mount {mount!r} (left, right)")
            if name not in {n.value for n in PipetteNameType}:
                raise ValueError(f"no pipette {name!r} (an Opentrons load name such as "
                                 "p300_single_gen2)")
        self.gripper = robot == "Flex" if gripper is None else gripper
        self.faults = faults or Faults()
        self.stop_s = stop_s
        self.runs: dict[str, Run] = {}
        #: the robot's deck configuration, (cutout, fixture) pairs; when last changed
        self.deck: list[tuple[str, str]] = list(DECK_CONFIGURATIONS[self.robot_type])
        self.deck_modified: str | None = None
        #: mounts with a tip physically on, whatever the current run's software believes
        self.tips_on: set[str] = set()
        #: what happened physically that the robot's software did not see (a pick-up onto
        #: a tip left on by an earlier run)
        self.incidents: list[str] = []
        self._on_incident = on_incident
        self.command_posts = 0
        self._lock = threading.RLock()
        self._models: dict[str, str] | None = None

    def close(self) -> None:
        with self._lock:
            for run in self.runs.values():
                if run.engine is not None:
                    run.engine.close()
                    run.engine = None

    # --- the robot --------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        flex = self.robot == "Flex"
        logs = ["/logs/serial.log", "/logs/api.log", "/logs/server.log",
                "/logs/update_server.log", *(["/logs/touchscreen.log"] if flex else [])]
        links = {"apiLog": "/logs/api.log", "serialLog": "/logs/serial.log",
                 "serverLog": "/logs/server.log",
                 **({"oddLog": "/logs/touchscreen.log"} if flex else {}),
                 "apiSpec": "/openapi.json", "systemTime": "/system/time"}
        return {"name": f"mscrobot-emulated-{self.robot.lower()}",
                "robot_model": self.robot_type, "api_version": self.version.name,
                "fw_version": "emulated", "board_revision": "emulated", "logs": logs,
                "system_version": "emulated",
                "maximum_protocol_api_version": list(self.version.max_protocol_api),
                "minimum_protocol_api_version": [2, 15] if flex else [2, 0],
                "robot_serial": "emulator", "links": links}

    def instruments(self) -> dict[str, Any]:
        from opentrons_shared_data.pipette import load_data, pipette_load_name_conversions

        flex = self.robot == "Flex"
        offset = {"offset": {"x": 0.0, "y": 0.0, "z": 0.0}, "source": "default",
                  "reasonability_check_failures": []}
        out: list[dict[str, Any]] = []
        for mount in ("left", "right"):
            name = self.pipettes.get(mount)
            if name is None:
                continue
            model = pipette_load_name_conversions.convert_pipette_name(name)
            spec = load_data.load_definition(model.pipette_type, model.pipette_channels,
                                             model.pipette_version, model.oem_type)
            volumes = next(iter(spec.liquid_properties.values()))
            data: dict[str, Any] = {"channels": spec.channels,
                                    "min_volume": float(volumes.min_volume),
                                    "max_volume": float(volumes.max_volume)}
            item: dict[str, Any] = {"mount": mount, "instrumentType": "pipette",
                                    "instrumentModel": pipette_model(name),
                                    "serialNumber": pipette_serial(name, mount),
                                    "subsystem": f"pipette_{mount}", "ok": True}
            if flex:
                item["firmwareVersion"] = "1"
                data["calibratedOffset"] = offset
            item["data"] = data
            item["instrumentName"] = name
            if flex:  # a Flex senses a tip on its pipettes
                item["state"] = {"tipDetected": mount in self.tips_on}
            out.append(item)
        if flex and self.gripper:
            out.append({"mount": "extension", "instrumentType": "gripper",
                        "instrumentModel": "gripperV1", "serialNumber": "EMU-GRIPPER",
                        "subsystem": "gripper", "ok": True, "firmwareVersion": "1",
                        "data": {"jawState": "homed_ready", "calibratedOffset": offset}})
        return {"data": out, "meta": {"cursor": 0, "totalLength": len(out)}}

    def legacy_pipettes(self) -> dict[str, Any]:
        axes = ({"left": ("z_l", "p_l"), "right": ("z_r", "p_r")} if self.robot == "Flex"
                else {"left": ("z", "b"), "right": ("a", "c")})
        out: dict[str, Any] = {}
        for mount in ("left", "right"):
            name = self.pipettes.get(mount)
            out[mount] = {"model": None if name is None else pipette_model(name),
                          "name": name, "tip_length": 0.0, "mount_axis": axes[mount][0],
                          "plunger_axis": axes[mount][1],
                          "id": None if name is None else pipette_serial(name, mount)}
        return out

    def deck_configuration(self) -> dict[str, Any]:
        return _prune({"data": {"cutoutFixtures": [
            {"cutoutFixtureId": fixture, "cutoutId": cutout} for cutout, fixture in self.deck],
            "lastModifiedAt": self.deck_modified}})

    def set_deck_configuration(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new deck configuration (``PUT /deck_configuration``), for the runs made after
        it: each of the deck's cutouts once, each with a fixture Opentrons' deck definition
        allows there (422 ``InvalidDeckConfiguration`` otherwise)."""
        from opentrons_shared_data.deck import load

        from mscrobot.lab.opentrons.backend import DECKS

        fixtures = body.get("cutoutFixtures")
        if not isinstance(fixtures, list) or not all(
                isinstance(f, dict) and isinstance(f.get("cutoutId"), str)
                and isinstance(f.get("cutoutFixtureId"), str) for f in fixtures):
            raise _invalid([("field required", {"pointer": "/data/cutoutFixtures"})])
        deck: Any = load(DECKS[self.robot_type], 5)
        cutouts = [c["id"] for c in deck["locations"]["cutouts"]]
        mounts = {f["id"]: f["mayMountTo"] for f in deck["cutoutFixtures"]}
        placed = [(f["cutoutId"], f["cutoutFixtureId"]) for f in fixtures]
        problems = [f"{fixture} cannot mount to {cutout}" for cutout, fixture in placed
                    if cutout not in mounts.get(fixture, [])]
        listed = [cutout for cutout, _ in placed]
        problems += [f"{c} has no fixture" for c in cutouts if c not in listed]
        problems += [f"{c} has more than one fixture" for c in cutouts if listed.count(c) > 1]
        if problems:
            raise HttpError(422, "InvalidDeckConfiguration", "; ".join(problems))
        with self._lock:
            self.deck, self.deck_modified = placed, _now()
        return self.deck_configuration()

    # --- runs -------------------------------------------------------------------------------

    def _current(self) -> Run | None:
        return next((r for r in self.runs.values() if r.current), None)

    def _run(self, run_id: str, detail: str | None = None) -> Run:
        try:
            return self.runs[run_id]
        except KeyError:
            raise HttpError(404, "RunNotFound", detail or f"Run {run_id} not found.") from None

    def _current_run(self, run_id: str) -> Run:
        """The run a write goes to: it must exist and be current."""
        run = self._run(run_id)
        if not run.current:
            raise _not_current(run_id)
        return run

    def view(self, run: Run) -> dict[str, Any]:
        summary = dict(run.summary())
        for name in self.version.drop_run_fields:
            summary.pop(name, None)
        summary["labwareOffsets"] = [self._offset(o) for o in summary.get("labwareOffsets", [])]
        summary.pop("status", None)
        out = {"id": run.id, "ok": True, "createdAt": run.created_at, "status": run.status(),
               "current": run.current, "actions": list(run.actions), **summary,
               "runTimeParameters": [], **{name: [] for name in self.version.run_lists}}
        for labware in out.get("labware", []):
            labware.pop("lid_id", None)
        return _prune(out)

    def _offset(self, offset: dict[str, Any]) -> dict[str, Any]:
        return _prune({k: v for k, v in offset.items()
                       if k not in self.version.drop_offset_fields})

    def list_runs(self) -> dict[str, Any]:
        with self._lock:
            runs = list(self.runs.values())
            current = self._current()
        return {"data": [self.view(r) for r in runs],
                "links": {} if current is None else {"current": {"href": f"/runs/{current.id}"}},
                "meta": {"cursor": 0, "totalLength": len(runs)}}

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self.view(self._run(run_id, f"Error 4000 GENERAL_ERROR (RunNotFoundError): "
                                           f"Run {run_id} was not found."))

    def create_run(self, body: dict[str, Any]) -> dict[str, Any]:
        offsets = body.get("labwareOffsets") or []
        if not isinstance(offsets, list):
            raise _invalid([("value is not a valid list",
                             {"pointer": "/data/labwareOffsets"})])
        problems = [p for i, o in enumerate(offsets)
                    for p in self._offset_problems(o, f"/data/labwareOffsets/{i}")]
        if problems:
            raise _invalid(problems)
        with self._lock:
            current = self._current()
            if self.faults.busy or (current is not None and not current.okay_to_clear()):
                raise HttpError(409, "RunAlreadyActive", "Current run is not idle or stopped.",
                                "4001")
            if current is not None:
                self._let_go(current)
            engine = InProcessBackend(self.robot, attached=self.pipettes, realtime=True,
                                      gripper=self.gripper, deck_configuration=self.deck)
            run = Run(engine.run_id, _now(), engine)
            for offset in offsets:
                engine.add_labware_offset(offset)
            self.runs[run.id] = run
            return self.view(run)

    def _let_go(self, run: Run) -> None:
        """End the current run and keep what the robot keeps of it (its record): the tips
        stay on, the next run's software knows nothing of them."""
        engine = run.engine
        if engine is not None:
            self._follow_tips(run)
            if engine.okay_to_clear() and engine.run_status() not in TERMINAL:
                engine.finish()
            run.stored_summary, run.stored_commands = engine.summary(), engine.records()
            engine.close()
            run.engine = None
        run.current = False

    def patch_run(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            run = self.runs.get(run_id)
            if run is None or not run.current:
                raise HttpError(409, "RunStopped", f"Cannot update {run_id} because it is not "
                                "the current run.")
            if body.get("current") is False:
                if not run.okay_to_clear():
                    raise HttpError(409, "RunNotIdle", "Run is not idle. Cannot let go of a "
                                    "run that is running, paused or stopping.", "4001")
                self._let_go(run)
            return self.view(run)

    def delete_run(self, run_id: str) -> None:
        with self._lock:
            run = self._run(run_id, f"Error 4000 GENERAL_ERROR (RunNotFoundError): "
                                    f"Run {run_id} was not found.")
            if run.current:
                if not run.okay_to_clear():
                    raise HttpError(409, "RunNotIdle", "Run is not idle.", "4001")
                self._let_go(run)
            del self.runs[run_id]

    def add_labware_definition(self, run_id: str, definition: dict[str, Any]) -> dict[str, Any]:
        run = self._current_run(run_id)
        assert run.engine is not None
        try:
            uri = run.engine.add_labware_definition(definition)
        except ValidationError as e:
            raise _invalid(self._problems(e, "/data")) from None
        return {"definitionUri": uri}

    def _offset_problems(self, offset: Any, at: str) -> list[tuple[str, dict[str, str]]]:
        from opentrons.protocol_engine.types import LegacyLabwareOffsetCreate

        try:
            LegacyLabwareOffsetCreate.model_validate(offset)
        except ValidationError as e:
            return self._problems(e, at)
        return []

    def add_labware_offset(self, run_id: str, offset: dict[str, Any]) -> dict[str, Any]:
        run = self._current_run(run_id)
        problems = self._offset_problems(offset, "/data")
        if problems:
            raise _invalid(problems)
        assert run.engine is not None
        return self._offset(run.engine.add_labware_offset(offset))

    # --- commands ---------------------------------------------------------------------------

    @staticmethod
    def _problems(e: ValidationError, at: str,
                  model: str | None = None) -> list[tuple[str, dict[str, str]]]:
        out = []
        for err in e.errors():
            loc = [str(p) for p in err["loc"]]
            if model is not None and loc:
                loc[0] = model
            detail = "field required" if err["type"] == "missing" else err["msg"]
            out.append((detail, {"pointer": "/".join([at, *loc])}))
        return out

    def _validated(self, data: Any) -> dict[str, Any]:
        """The command as the robot takes it (``intent`` setup when it says none), or the
        robot's 422."""
        from opentrons.protocol_engine.commands import CommandCreateAdapter

        if not isinstance(data, dict):
            raise _invalid([("field required", {"pointer": "/data"})])
        kind = data.get("commandType")
        if self._models is None:
            self._models = _command_models()
        allowed = self.version.commands
        known = sorted(self._models) if allowed is None else sorted(allowed)
        if kind not in self._models or (allowed is not None and kind not in allowed):
            listed = ", ".join(f"'{k}'" for k in known)
            raise _invalid([(f"No match for discriminator 'commandType' and value {kind!r} "
                             f"(allowed values: {listed})", {"pointer": "/data"})])
        cmd = {**data, "intent": data.get("intent") or "setup"}
        try:
            CommandCreateAdapter.validate_python(cmd)
        except ValidationError as e:
            raise _invalid(self._problems(e, "/data", self._models[str(kind)])) from None
        return cmd

    def add_command(self, run_id: str, data: Any, wait: bool,
                    timeout_ms: int | None) -> dict[str, Any] | None:
        """The command as recorded, or None when the connection is to be dropped."""
        run = self._current_run(run_id)
        cmd = self._validated(data)
        with self._lock:
            self.command_posts += 1
            n = self.command_posts
        engine = run.engine
        assert engine is not None
        try:
            if n in self.faults.slow:
                record = engine.execute(cmd, wait=False)
                time.sleep((timeout_ms or 0) / 1000.0)
                return self.command({**record, "status": "running", "completedAt": None,
                                     "result": None})
            record = engine.execute(cmd, wait=wait,
                                    timeout_s=None if timeout_ms is None else timeout_ms / 1e3)
        except pe_errors.SetupCommandNotAllowedError as e:
            raise _from_engine(409, "SetupCommandNotAllowed", e) from None
        except pe_errors.RunStoppedError as e:
            raise _from_engine(409, "RunStopped", e) from None
        except pe_errors.CommandNotAllowedError as e:
            raise _from_engine(400, "CommandNotAllowed", e) from None
        except pe_errors.ProtocolEngineError as e:  # the robot's server does not expect it
            raise _from_engine(500, "UnexpectedError", e) from None
        self._follow_tips(run)
        return None if n in self.faults.drop else self.command(record)

    def command(self, record: dict[str, Any], summary: bool = False) -> dict[str, Any]:
        """A command record as this robot's server answers it (a list item: no result)."""
        out = {k: v for k, v in record.items() if k != "failedCommandId" or v is not None}
        if summary:
            out.pop("result", None)
        elif isinstance(out.get("result"), dict):
            out["result"] = {k: v for k, v in out["result"].items()
                             if k not in self.version.drop_result_fields}
        v = self.version
        params = {k: val for k, val in (out.get("params") or {}).items()
                  if k not in v.drop_params.get(out["commandType"], ())}
        if isinstance(params.get("wellLocation"), dict):
            params["wellLocation"] = {k: val for k, val in params["wellLocation"].items()
                                      if k not in v.drop_well_location_fields}
        out["params"] = params
        out["notes"] = [n for n in out.get("notes") or []
                        if n.get("noteKind") not in v.drop_note_kinds]
        if v.notes_when_done and out["status"] in ("queued", "running"):
            del out["notes"]
        return _prune(out)

    def _follow_tips(self, run: Run) -> None:
        """Carry the physical tips through the run's commands done since last time: a
        pick-up puts one on (onto one already there, if the software forgot it), any drop
        takes it off."""
        with self._lock:
            records = run.records()
            mounts = {p["id"]: p["mount"] for p in run.summary().get("pipettes", [])}
            done = run.seen
            for record in records[run.seen:]:
                if record["status"] in ("queued", "running"):
                    break
                done += 1
                mount = mounts.get((record.get("params") or {}).get("pipetteId", ""))
                if record["status"] != "succeeded" or mount is None:
                    continue
                if record["commandType"] == "pickUpTip":
                    if mount in self.tips_on:
                        self._incident(f"pickUpTip onto a tip already on the {mount} pipette "
                                       f"(run {run.id}, command {record['id']}): the robot's "
                                       "software had forgotten it when an earlier run ended")
                    self.tips_on.add(mount)
                elif record["commandType"] in DROPS:
                    self.tips_on.discard(mount)
            run.seen = done

    def _incident(self, text: str) -> None:
        self.incidents.append(text)
        if self._on_incident is not None:
            self._on_incident(text)

    def get_command(self, run_id: str, command_id: str) -> dict[str, Any]:
        run = self._run(run_id)
        engine = run.engine
        if engine is not None:  # the robot asks the run's engine, which raises
            record = engine.record(command_id)
            if record is None:
                message = f"Command {command_id} does not exist"
                raise HttpError(500, "UnexpectedError", message, meta={
                    "type": "CommandDoesNotExistError", "code": "4000", "message": message,
                    "detail": {}, "wrapping": []})
            return self.command(record)
        record = next((r for r in run.records() if r["id"] == command_id), None)
        if record is None:  # the robot's store says it has none
            message = (f"robot_server.runs.run_store.CommandNotFoundError: Command "
                       f"{command_id} was not found.")
            raise HttpError(404, "CommandNotFound", message, meta={
                "type": "CommandNotFoundError", "code": "4000", "message": message,
                "detail": {"args": f"('Command {command_id} was not found.',)",
                           "traceback": "", "class": "CommandNotFoundError"},
                "wrapping": []})
        return self.command(record)

    def list_commands(self, run_id: str, cursor: int | None, length: int) -> dict[str, Any]:
        """A page of command summaries, paged as the robot pages (``CommandView.get_slice``
        of robot-server 8.1.0): no cursor → the page ending at the running or last executed
        command; a cursor past the end → the last command."""
        run = self.runs.get(run_id)
        if run is None:
            message = f"Run {run_id} was not found."
            raise HttpError(404, "RunNotFound", message, meta={
                "type": "RunNotFoundError", "code": "4000", "message": message,
                "detail": {"runId": run_id}, "wrapping": []})
        records = run.records()
        total = len(records)
        if cursor is None:
            statuses = [r["status"] for r in records]
            if "running" in statuses:
                cursor = statuses.index("running")
            elif "queued" in statuses:
                cursor = statuses.index("queued") - 1
            else:
                cursor = total - length
        start = max(0, min(cursor, total - 1))
        page = records[start:min(total, start + length)]
        links: dict[str, Any] = {}
        pointer = run.engine.current_command() if run.engine is not None else None
        if pointer is not None:
            links["current"] = {"href": f"/runs/{run_id}/commands/{pointer['commandId']}",
                                "meta": {"runId": run_id, **pointer}}
        return {"data": [self.command(r, summary=True) for r in page], "links": links,
                "meta": {"cursor": start, "totalLength": total}}

    def current_state(self, run_id: str) -> dict[str, Any]:
        run = self._run(run_id)
        if run.engine is None or not run.current:
            raise _not_current(run_id)
        last = run.engine.last_completed()
        links = {} if last is None else {"lastCompleted": {
            "id": last, "href": f"/runs/{run_id}/commands/{last}"}}
        return {"data": {"activeNozzleLayouts": run.engine.nozzle_layouts()}, "links": links}

    # --- actions ----------------------------------------------------------------------------

    def add_action(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        run = self._run(run_id)
        action_type = body.get("actionType")
        if action_type not in self.version.actions:
            permitted = ", ".join(f"'{a}'" for a in self.version.actions)
            raise _invalid([(f"value is not a valid enumeration member; permitted: "
                             f"{permitted}", {"pointer": "/data/actionType"})])
        if not run.current:
            raise _not_current(run_id)
        engine = run.engine
        assert engine is not None
        if action_type == "stop":
            self._stop(run)
        else:
            try:
                engine.act(action_type)
            except pe_errors.ProtocolEngineError as e:
                meta = _meta(e, "RunActionNotAllowedError", "3000", [_meta(e)])
                raise HttpError(409, "RunActionNotAllowed", meta["message"], "3000",
                                meta=meta) from None
        action = {"id": str(uuid.uuid4()), "createdAt": _now(), "actionType": action_type}
        run.actions.append(action)
        return action

    def _stop(self, run: Run) -> None:
        """A stop, finished ``stop_s`` later (the robot halts and cleans up first); a run
        already over or stopping stays as it is."""
        engine = run.engine
        if engine is None or run.stopping or engine.run_status() in TERMINAL:
            return
        run.stopping = True

        def finish() -> None:
            time.sleep(self.stop_s)
            try:
                engine.stop()
                deadline = time.monotonic() + 10.0
                while engine.run_status() not in TERMINAL and time.monotonic() < deadline:
                    time.sleep(0.02)
            finally:
                self._follow_tips(run)
                run.stopping = False

        threading.Thread(target=finish, daemon=True, name=f"stop-{run.id}").start()

    def settle(self, timeout_s: float = 10.0) -> None:
        """Wait until no stop is pending (tests)."""
        deadline = time.monotonic() + timeout_s
        while any(r.stopping for r in list(self.runs.values())):
            if time.monotonic() > deadline:
                raise TimeoutError("a stop did not finish")
            time.sleep(0.02)


# --- HTTP -------------------------------------------------------------------------------------

#: (method, path pattern, handler name, legacy): a legacy route answers with the version
#: headers and its own error shape, as the robot's older routes do.
ROUTES = [
    ("GET", r"/health", "health", True),
    ("GET", r"/runs", "list_runs", False),
    ("POST", r"/runs", "create_run", False),
    ("GET", r"/runs/(?P<run>[^/]+)", "get_run", False),
    ("PATCH", r"/runs/(?P<run>[^/]+)", "patch_run", False),
    ("DELETE", r"/runs/(?P<run>[^/]+)", "delete_run", False),
    ("POST", r"/runs/(?P<run>[^/]+)/labware_definitions", "labware", False),
    ("POST", r"/runs/(?P<run>[^/]+)/labware_offsets", "offset", False),
    ("POST", r"/runs/(?P<run>[^/]+)/commands", "post_command", False),
    ("GET", r"/runs/(?P<run>[^/]+)/commands", "list_commands", False),
    ("GET", r"/runs/(?P<run>[^/]+)/commands/(?P<cmd>[^/]+)", "get_command", False),
    ("POST", r"/runs/(?P<run>[^/]+)/actions", "action", False),
    ("GET", r"/runs/(?P<run>[^/]+)/currentState", "current_state", False),
    ("GET", r"/instruments", "instruments", False),
    ("GET", r"/pipettes", "pipettes", True),
    ("GET", r"/modules", "empty_list", False),
    ("GET", r"/protocols", "empty_list", False),
    ("GET", r"/deck_configuration", "deck_configuration", False),
    ("PUT", r"/deck_configuration", "put_deck_configuration", False),
    ("GET", r"/robot/lights", "lights", True),
    ("GET", r"/system/time", "system_time", True),
    ("GET", r"/maintenance_runs/current_run", "maintenance_run", True),
]
_ROUTES = [(verb, re.compile(f"^{path}$"), name, legacy) for verb, path, name, legacy in ROUTES]


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

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _reply(self, status: int, body: Any, headers: bool, version: int = API_VERSION) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        if headers:
            self.send_header("Opentrons-Version", str(version))
            self.send_header("Opentrons-Min-Version", str(MIN_API_VERSION))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _version(self, legacy: bool) -> int:
        """The version this request is answered in, as the robot's ``check_version_header``
        decides it (the legacy routes' 422 in their own shape)."""
        asked = self.headers.get("Opentrons-Version")
        if asked is None:
            if legacy:
                raise HttpError(422, "InvalidRequest", "header.opentrons-version: field "
                                "required", legacy=True)
            raise HttpError(422, "InvalidRequest", "field required",
                            source={"header": "opentrons-version"})
        if not (asked == "*" or asked.strip().isdigit()):
            if legacy:
                raise HttpError(422, "InvalidRequest", "header.opentrons-version: value is "
                                "not a valid integer", legacy=True)
            source = {"header": "opentrons-version"}
            raise HttpError(422, "InvalidRequest", "unexpected value; permitted: '*'",
                            source=source, more=[{
                                "id": "InvalidRequest", "title": "Invalid Request",
                                "detail": "value is not a valid integer", "source": source,
                                "errorCode": "4000"}])
        version = API_VERSION if asked == "*" else min(API_VERSION, int(asked))
        if version < MIN_API_VERSION:
            raise HttpError(400, "OutdatedAPIVersion", f"The requested API version "
                            f"'{version}' is not supported. 'Opentrons-Version' must be at "
                            f"least '{MIN_API_VERSION}'. Please upgrade your Opentrons App or "
                            "other HTTP API client.")
        return version

    def _json(self) -> Any:
        if not self._raw:
            return None
        try:
            return json.loads(self._raw)
        except json.JSONDecodeError as e:
            raise _invalid([(e.msg + f": line {e.lineno} column {e.colno} (char {e.pos})",
                             {"pointer": f"/{e.pos}"})]) from None

    def _data(self, required: bool = True) -> dict[str, Any]:
        """The request's ``data`` object (``{"data": {...}}``), or the robot's 422."""
        body = self._json()
        if body is None and not required:
            return {}
        if not isinstance(body, dict) or "data" not in body:
            raise _invalid([("field required", {"pointer": "/data"})])
        if not isinstance(body["data"], dict):
            raise _invalid([("value is not a valid dict", {"pointer": "/data"})])
        return body["data"]

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        # read the whole request first: a reply to a half-read one would corrupt the next
        # request on this kept-alive connection
        self._raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        version = API_VERSION
        route = next(((name, legacy, m.groupdict()) for verb, pattern, name, legacy in _ROUTES
                      if verb == method and (m := pattern.match(url.path))), None)
        legacy = route is None or route[1]
        try:
            version = self._version(legacy)
            if route is None or (route[0] == "current_state"
                                 and not self.server.robot.version.current_state):
                raise HttpError(404, "BadRequest", "Not Found")
            status, body = getattr(self, "_" + route[0])(query, **route[2])
            if body is None:  # a dropped connection (fault injection)
                self.close_connection = True
                self.connection.close()
                return
            self._reply(status, body, legacy, version)
        except HttpError as e:
            self._reply(e.status, e.body(), True, version)
        except Exception as e:  # as the robot's server answers what it did not expect
            meta = _meta(e)
            self._reply(500, HttpError(500, "UnexpectedError", meta["message"],
                                       meta=meta).body(), True, version)

    # --- routes: each returns (status, body) ----------------------------------------------

    @property
    def robot(self) -> RobotEmulator:
        return self.server.robot

    def _health(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, self.robot.health()

    def _list_runs(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, self.robot.list_runs()

    def _create_run(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 201, {"data": self.robot.create_run(self._data(required=False))}

    def _get_run(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        return 200, {"data": self.robot.get_run(run)}

    def _patch_run(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        return 200, {"data": self.robot.patch_run(run, self._data())}

    def _delete_run(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        self.robot.delete_run(run)
        return 200, {}

    def _labware(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        self.robot._run(run)
        return 201, {"data": self.robot.add_labware_definition(run, self._data())}

    def _offset(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        self.robot._run(run)
        return 201, {"data": self.robot.add_labware_offset(run, self._data())}

    @staticmethod
    def _int(query: dict[str, str], name: str) -> int | None:
        if name not in query:
            return None
        try:
            return int(query[name])
        except ValueError:
            raise _invalid([("value is not a valid integer", {"parameter": name})]) from None

    def _post_command(self, query: dict[str, str],
                      run: str) -> tuple[int, dict[str, Any] | None]:
        self.robot._current_run(run)
        wait = query.get("waitUntilComplete", "false").lower() in ("true", "1", "yes", "on")
        timeout = self._int(query, "timeout")
        if timeout is not None and timeout <= 0:
            raise _invalid([("ensure this value is greater than 0", {"parameter": "timeout"})])
        body = self._json()
        if not isinstance(body, dict) or "data" not in body:
            raise _invalid([("field required", {"pointer": "/data"})])
        record = self.robot.add_command(run, body["data"], wait, timeout)
        return 201, None if record is None else {"data": record}

    def _list_commands(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        cursor = self._int(query, "cursor")
        length = self._int(query, "pageLength")
        return 200, self.robot.list_commands(run, cursor,
                                             PAGE_LENGTH if length is None else length)

    def _get_command(self, query: dict[str, str], run: str,
                     cmd: str) -> tuple[int, dict[str, Any]]:
        return 200, {"data": self.robot.get_command(run, cmd)}

    def _action(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        self.robot._run(run)
        return 201, {"data": self.robot.add_action(run, self._data())}

    def _current_state(self, query: dict[str, str], run: str) -> tuple[int, dict[str, Any]]:
        return 200, self.robot.current_state(run)

    def _instruments(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, self.robot.instruments()

    def _pipettes(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, self.robot.legacy_pipettes()

    def _empty_list(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, {"data": [], "meta": {"cursor": 0, "totalLength": 0}}

    def _deck_configuration(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, self.robot.deck_configuration()

    def _put_deck_configuration(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, self.robot.set_deck_configuration(self._data())

    def _lights(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, {"on": False}

    def _system_time(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, {"data": {"systemTime": _now(), "id": "time"},
                     "links": {"self": {"href": "/system/time", "meta": None}}}

    def _maintenance_run(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        raise HttpError(404, "NoCurrentRunFound", "No maintenance run currently running.")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], robot: RobotEmulator) -> None:
        super().__init__(address, _Handler)
        self.robot = robot


def serve(robot: RobotEmulator, host: str = "127.0.0.1", port: int = 31950) -> _Server:
    """A server bound to ``host:port`` (port 0: any free one); call ``serve_forever``."""
    return _Server((host, port), robot)


def parse_pipettes(items: list[str]) -> dict[str, str]:
    """``["left=p20_single_gen2", ...]`` as mount → pipette load name."""
    out: dict[str, str] = {}
    for item in items:
        mount, sep, name = item.partition("=")
        if not sep or mount not in ("left", "right") or not name:
            raise ValueError(f"pipette {item!r}: write MOUNT=NAME, MOUNT left or right")
        out[mount] = name
    return out


def run(port: int = 31950, host: str = "127.0.0.1", robot: str = "OT-2", faults: str = "",
        version: str = DEFAULT_VERSION, pipettes: Mapping[str, str] | None = None,
        stop_s: float = 0.3) -> None:
    """Serve until interrupted; prints ``HOST:PORT`` on the first line, and each incident
    (a pick-up onto a forgotten tip) on stderr."""
    emulator = RobotEmulator(robot, Faults.parse(faults), version, pipettes, stop_s=stop_s,
                             on_incident=lambda text: print(f"incident: {text}",
                                                            file=sys.stderr, flush=True))
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
