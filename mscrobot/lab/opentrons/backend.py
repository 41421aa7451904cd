"""What the Opentrons liquid handler needs from a robot: send a command, ask about one later.

One small Protocol so the in-process engine, the robot's HTTP API and the emulator plug in the
same way. A backend never raises for a command the robot refused: the refusal comes back as
``status == "failed"`` with Opentrons' error text, and the caller decides what it means. It
raises ``TransientDeviceError`` only when the command certainly did not reach the robot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from mscrobot.lab.opentrons.commands import Command

#: Opentrons' robot type names, from what lab files say.
ROBOT_TYPES = {"OT-2": "OT-2 Standard", "Flex": "OT-3 Standard"}

#: Where tips go on a robot whose deck configuration nobody changed (or that has none to
#: tell): the OT-2's fixed trash, the Flex's trash bin in A3.
DEFAULT_TRASH = {"OT-2 Standard": "fixedTrash", "OT-3 Standard": "movableTrashA3"}
#: Opentrons' deck definition of each robot type.
DECKS = {"OT-2 Standard": "ot2_standard", "OT-3 Standard": "ot3_standard"}

#: An OT-2's deck calibration states (``GET /calibration/status``) in words; the last two
#: are the robot saying its calibration is unusable.
DECK_CALIBRATION = {"OK": "calibrated", "IDENTITY": "not calibrated (default)",
                    "BAD_CALIBRATION": "bad (recalibrate)",
                    "SINGULARITY": "singular (recalibrate)"}
BAD_DECK_CALIBRATION = frozenset({DECK_CALIBRATION["BAD_CALIBRATION"],
                                  DECK_CALIBRATION["SINGULARITY"]})

#: Opentrons' command statuses (``CommandStatus`` values).
Status = Literal["queued", "running", "succeeded", "failed"]


@dataclass(frozen=True)
class CommandResult:
    id: str
    command_type: str
    status: Status
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None


@runtime_checkable
class CommandBackend(Protocol):
    robot_type: str  # "OT-2 Standard" or "OT-3 Standard" (the Flex), as Opentrons names them
    run_id: str  # the robot's run these commands go to
    trash: str  # the addressable area tips are dropped into, as the robot's deck provides it
    software: str  # the robot software's release ("in process": the local engine)
    #: the command types the robot is known to take (None: all of the local engine's)
    command_types: frozenset[str] | None
    #: the pipette on each mount as the robot reads it (None: it cannot say, in process)
    attached: dict[str, str] | None
    #: the labware offsets the run was created with, as the robot keeps them
    offsets: list[dict[str, Any]]

    def add_labware_definition(self, definition: dict[str, Any]) -> str:
        """Make a custom labware definition loadable; returns its URI."""

    def send(self, cmd: Command) -> CommandResult:
        """Run one setup command to completion and return it as the robot recorded it."""

    def status(self, command_id: str, run_id: str | None = None) -> CommandResult | None:
        """The command as the robot recorded it in ``run_id`` (default: this backend's run);
        None: the robot has no such command (or no longer that run)."""

    def knows_run(self, run_id: str) -> bool:
        """Whether the robot still has run ``run_id`` to ask about."""

    def find(self, key: str, run_id: str | None = None) -> CommandResult | None:
        """The command sent with ``key`` (a command in flight when the connection or the
        process died is found this way), or None: the robot never took it."""

    def tips_left(self, run_ids: list[str]) -> set[str]:
        """Mounts whose pipette held a tip after runs ``run_ids`` (in order; runs the robot
        no longer has are skipped): the hardware keeps a tip into the next run, whose engine
        does not know it."""

    def close(self) -> None: ...


@runtime_checkable
class Halts(Protocol):
    """A robot that may be in motion while this process waits (over HTTP, a command goes on
    when its answer is lost)."""

    run_id: str

    def halt(self) -> str | None:
        """Stop our run if a command of it is still running or queued (the robot's stop
        action: Opentrons' engine lets a running setup command end, and starts none after
        it) and make a new run for what follows; what was stopped, or None if the run was
        idle."""


def tips_left(records: list[dict[str, Any]], mounts: dict[str, str]) -> set[str]:
    """Mounts holding a tip after ``records`` (runs' commands as the robot lists them, in
    order; list items carry no results, so ``mounts`` maps each pipette id to its mount, as
    the runs' ``pipettes`` say): the last successful pick-up on each not followed by a
    successful drop."""
    from mscrobot.lab.opentrons.commands import DROPS

    holding: set[str] = set()
    for r in records:
        mount = mounts.get((r.get("params") or {}).get("pipetteId", ""))
        if r.get("status") != "succeeded" or mount is None:
            continue
        if r.get("commandType") == "pickUpTip":
            holding.add(mount)
        elif r.get("commandType") in DROPS:
            holding.discard(mount)
    return holding


def trash_area(robot_type: str, fixtures: list[dict[str, Any]]) -> str | None:
    """The addressable area a single-channel pipette drops its tips into, from the robot's
    deck configuration (``GET /deck_configuration``'s ``cutoutFixtures``) read with Opentrons'
    deck definition: its fixed trash or a trash bin (the first listed), else a waste chute's
    single-channel opening; None when the deck has neither."""
    from opentrons_shared_data.deck import load

    deck: Any = load(DECKS[robot_type], 5)
    kinds = {a["id"]: a["areaType"] for a in deck["locations"]["addressableAreas"]}
    provides = {f["id"]: f["providesAddressableAreas"] for f in deck["cutoutFixtures"]}
    areas = [area for f in fixtures
             for area in provides.get(f.get("cutoutFixtureId"), {}).get(f.get("cutoutId"), [])]
    bins = [a for a in areas if kinds.get(a) in ("fixedTrash", "movableTrash")]
    if bins:
        return str(bins[0])
    return "1ChannelWasteChute" if "1ChannelWasteChute" in areas else None


def calibration_summary(robot_type: str, status: dict[str, Any],
                        instruments: list[dict[str, Any]]) -> dict[str, str]:
    """A robot's calibration in words: an OT-2's deck calibration (``/calibration/status``;
    a Flex has none, whatever that route says), and each instrument's offset calibration
    where ``/instruments`` reports one (a Flex's)."""
    out: dict[str, str] = {}
    deck = (status.get("deckCalibration") or {}).get("status")
    if robot_type == "OT-2 Standard" and deck:
        out["deck"] = DECK_CALIBRATION.get(str(deck), str(deck))
    for i in instruments:
        source = ((i.get("data") or {}).get("calibratedOffset") or {}).get("source")
        if source:
            out[str(i.get("mount"))] = ("not calibrated (default offset)" if source == "default"
                                        else f"calibrated ({source})")
    return out


def pipette_mounts(run: dict[str, Any]) -> dict[str, str]:
    """Pipette id → mount, from a run as the robot shows it (its ``pipettes``)."""
    return {str(p["id"]): str(p["mount"]) for p in run.get("pipettes") or []}


def result_from_json(record: dict[str, Any]) -> CommandResult:
    """A command as the robot's HTTP API shows it (the engine's ``Command`` as JSON)."""
    error = record.get("error") or {}
    return CommandResult(
        id=record["id"], command_type=record["commandType"], status=record["status"],
        params=record.get("params") or {}, result=record.get("result") or {},
        error=error.get("detail"), error_type=error.get("errorType"))
