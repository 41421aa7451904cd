"""Opentrons' protocol engine in this process, on simulated hardware: the dry-run robot.

Set up as ``opentrons.protocol_runner.create_simulating_orchestrator`` does it (the hardware
simulator for the robot type, the Flex's being the OT-3 one; an engine that ignores pauses and
uses virtual pipettes, modules, gripper and a simulated deck configuration; never recovering
from errors), then built with ``RunOrchestrator.build_orchestrator`` as the robot's server
builds its runs. Commands go in with ``add_command_and_wait_for_interval(...,
wait_until_complete=True)`` and are re-read by id, as the robot's HTTP API answers them.

The robot emulator (``emulator.py``) builds it as the robot's own server does instead
(``attached``): the hardware simulator holding the instruments the robot has, with the OT-2's
strict check that a loaded pipette is the attached model; real pipettes and gripper, the
robot's default deck configuration, and waits and pauses that take their time
(``realtime``). A wrong pipette then fails with Opentrons' own ``FailedToLoadPipetteError``,
a second pick-up with the hardware's ``UnexpectedTipAttachError``, a labware on the trash's
slot with ``AreaNotInDeckConfigurationError``, as on the robot.

The engine is asyncio; mscrobot's engine is not, and may itself run inside an event loop
(Prefect), so the orchestrator lives on its own loop in a daemon thread and each call waits for
its coroutine there.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from opentrons.protocol_engine import Config, DeckType, error_recovery_policy
from opentrons.protocol_engine.create_protocol_engine import create_protocol_engine
from opentrons.protocol_engine.errors import CommandDoesNotExistError, ProtocolEngineError
from opentrons.protocol_runner import RunOrchestrator
from opentrons.protocols.api_support import deck_type
from opentrons_shared_data.labware.labware_definition import LabwareDefinition2

from mscrobot.lab.opentrons.backend import (
    DEFAULT_TRASH,
    ROBOT_TYPES,
    CommandResult,
    pipette_mounts,
    result_from_json,
    tips_left,
    trash_area,
)
from mscrobot.lab.opentrons.commands import Command, validate
from mscrobot.lab.protocols import DeviceFaultError

T = TypeVar("T")

#: Seconds to wait for one command; the simulator finishes in milliseconds.
COMMAND_TIMEOUT_S = 60.0

#: The robot's deck configuration out of the box (what ``GET /deck_configuration`` answers on
#: a robot nobody reconfigured): (cutout, fixture) pairs, the OT-2's fixed trash in 12, the
#: Flex's trash bin in A3.
DECK_CONFIGURATIONS: dict[str, list[tuple[str, str]]] = {
    "OT-2 Standard": [(f"cutout{n}", "singleStandardSlot") for n in range(1, 12)]
    + [("cutout12", "fixedTrashSlot")],
    "OT-3 Standard": [(f"cutout{row}1", "singleLeftSlot") for row in "ABCD"]
    + [(f"cutout{row}2", "singleCenterSlot") for row in "ABCD"]
    + [("cutoutA3", "trashBinAdapter")]
    + [(f"cutout{row}3", "singleRightSlot") for row in "BCD"],
}


def pipette_model(name: str) -> str:
    """The model string the hardware reports for a pipette load name (``p300_single_gen2`` →
    ``p300_single_v2.0``, ``p50_single_flex`` → ``p50_single_v3.4``), as the robot's own
    simulators are set up."""
    base, _, generation = name.rpartition("_")
    if generation == "gen2":
        return f"{base}_v2.0"
    if generation == "flex":
        return f"{base}_v3.4"
    if generation == "96":
        return f"{name}_v3.4"
    return f"{name}_v1.5"


def pipette_serial(name: str, mount: str) -> str:
    """A serial number for an emulated pipette: its load name and mount, so it never passes
    for a real one."""
    return f"EMU-{mount.upper()}-{name}"


def _quiet_opentrons() -> None:
    """Opentrons logs each failed command with a traceback; the failure reaches the user as
    the command's error text instead, so its loggers stay at CRITICAL."""
    logging.getLogger("opentrons").setLevel(logging.CRITICAL)


async def _hardware(robot_type: str, attached: Mapping[str, str] | None, gripper: bool) -> Any:
    """The hardware simulator, holding ``attached`` (mount → pipette load name) if given.
    The OT-2's checks each loaded pipette against the attached model (``strict``, as the
    OT-2's hardware does); the Flex's does not (as the robot server's own Flex simulator)."""
    instruments: dict[Any, dict[str, str | None]] = {}
    if robot_type == "OT-3 Standard":
        from opentrons.hardware_control.ot3api import OT3API
        from opentrons.hardware_control.types import OT3Mount

        for mount, name in (attached or {}).items():
            instruments[OT3Mount[mount.upper()]] = {"model": pipette_model(name),
                                                   "id": pipette_serial(name, mount)}
        if gripper:
            instruments[OT3Mount.GRIPPER] = {"model": "gripperV1", "id": "EMU-GRIPPER"}
        return await OT3API.build_hardware_simulator(
            attached_instruments=instruments, strict_attached_instruments=False)
    from opentrons.hardware_control import API
    from opentrons.types import Mount

    for mount, name in (attached or {}).items():
        instruments[Mount[mount.upper()]] = {"model": pipette_model(name),
                                            "id": pipette_serial(name, mount)}
    hardware = await API.build_hardware_simulator(attached_instruments=instruments,
                                                  strict_attached_instruments=True)
    if attached is not None:
        _refuse_empty_mounts(hardware, set(attached))
    return hardware


def _refuse_empty_mounts(hardware: Any, attached: set[str]) -> None:
    """The OT-2 simulator makes up a pipette on an empty mount when one is loaded there; the
    OT-2's hardware refuses, with this message (``backends/controller.py``), which the
    engine reports as ``FailedToLoadPipetteError``."""
    simulator = hardware._backend
    make_up = simulator._attached_to_mount

    def attached_to_mount(mount: Any, expected: Any) -> Any:
        if expected and mount.name.lower() not in attached:
            raise RuntimeError(f"mount {mount}: instrument {expected} was requested, but no "
                               "instrument is present")
        return make_up(mount, expected)

    simulator._attached_to_mount = attached_to_mount


async def _build(robot_type: str, attached: Mapping[str, str] | None = None,
                 realtime: bool = False, gripper: bool = False,
                 deck: list[tuple[str, str, None]] | None = None) -> tuple[RunOrchestrator, Any]:
    hardware = await _hardware(robot_type, attached, gripper)
    # create_simulating_orchestrator homes the hardware too: its engine relies on it (EXEC-646)
    await hardware.home()
    robot = attached is not None  # set up as the robot's server sets up a run
    engine = await create_protocol_engine(
        hardware_api=hardware,
        config=Config(robot_type=robot_type,  # type: ignore[arg-type]
                      deck_type=DeckType(deck_type.for_simulation(robot_type)),  # type: ignore[arg-type]
                      ignore_pause=not realtime, use_virtual_modules=True,
                      use_virtual_gripper=not (robot and gripper),
                      use_simulated_deck_config=not robot, use_virtual_pipettes=not robot),
        error_recovery_policy=error_recovery_policy.never_recover,
        # no fixed-trash labware: trash is an addressable area, as for apiLevel >= 2.16
        # protocols (should_load_fixed_trash) and live runs
        load_fixed_trash=False,
        deck_configuration=deck if robot else None,
    )
    orchestrator = RunOrchestrator.build_orchestrator(hardware_api=hardware,
                                                      protocol_engine=engine)
    if robot:
        orchestrator.prepare()  # a run with no protocol, as the robot's server makes one
    return orchestrator, hardware


class InProcessBackend:
    """A simulated OT-2 or Flex (``robot`` as a lab file says it: "OT-2" or "Flex").

    ``attached`` (mount → pipette load name; the emulator's): set up as the robot's server
    sets up a run on a robot with those instruments (and a Flex's ``gripper``), not as a
    dry run; ``realtime``: waits and pauses take their time, as on the robot."""

    software = "in process"  # the local opentrons engine: every command it has
    command_types: frozenset[str] | None = None
    attached: dict[str, str] | None = None

    def __init__(self, robot: str = "OT-2", attached: Mapping[str, str] | None = None,
                 realtime: bool = False, gripper: bool = False,
                 deck_configuration: list[tuple[str, str]] | None = None) -> None:
        """``deck_configuration`` (with ``attached``): the robot's (cutout, fixture) pairs,
        if not its default ones."""
        _quiet_opentrons()
        self.robot_type = ROBOT_TYPES[robot]
        self.run_id = str(uuid.uuid4())
        self.offsets: list[dict[str, Any]] = []
        deck = deck_configuration or DECK_CONFIGURATIONS[self.robot_type]
        self._deck_configuration = [] if attached is None else [(c, f, None) for c, f in deck]
        self.trash = DEFAULT_TRASH[self.robot_type] if attached is None else (trash_area(
            self.robot_type, [{"cutoutId": c, "cutoutFixtureId": f} for c, f in deck])
            or DEFAULT_TRASH[self.robot_type])
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="opentrons-engine")
        self._thread.start()
        self._run_task: asyncio.Future[Any] | None = None
        try:
            self._orchestrator, self._hardware = self._call(_build(
                self.robot_type, attached, realtime, gripper, self._deck_configuration))
        except BaseException:
            self._stop_loop()
            raise

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def add_labware_definition(self, definition: dict[str, Any]) -> str:
        return str(self._orchestrator.add_labware_definition(
            LabwareDefinition2.model_validate(definition)))

    def send(self, cmd: Command) -> CommandResult:
        try:
            return result_from_json(self.execute(cmd))
        except ProtocolEngineError as e:  # the run takes no commands now (stopped, busy)
            raise DeviceFaultError(f"Opentrons takes no {cmd.get('commandType')} now: "
                                   f"{type(e).__name__}: {e.message}") from None

    def status(self, command_id: str, run_id: str | None = None) -> CommandResult | None:
        if run_id not in (None, self.run_id):
            return None  # a run of another process: gone with it
        record = self.record(command_id)
        return None if record is None else result_from_json(record)

    def knows_run(self, run_id: str) -> bool:
        return run_id == self.run_id

    def find(self, key: str, run_id: str | None = None) -> CommandResult | None:
        if run_id not in (None, self.run_id):
            return None
        return next((result_from_json(r) for r in self.records() if r.get("key") == key), None)

    def tips_left(self, run_ids: list[str]) -> set[str]:
        """Nothing of another process's runs: their simulated hardware ended with them."""
        if self.run_id not in run_ids:
            return set()
        return tips_left(self.records(), pipette_mounts(self.summary()))

    def commands(self) -> list[CommandResult]:
        """Every command this robot ran, in order (tests, reports)."""
        return [result_from_json(r) for r in self.records()]

    # --- the robot's view, as its HTTP API shows it (the emulator serves these) -------------

    def execute(self, cmd: Command, wait: bool = True,
                timeout_s: float | None = COMMAND_TIMEOUT_S) -> dict[str, Any]:
        """Add ``cmd`` (waiting up to ``timeout_s`` for it when ``wait``) and return it as
        recorded. Raises ``InvalidCommandError``, or Opentrons' own error when the run takes
        no such command now (``SetupCommandNotAllowedError``, ``RunStoppedError``)."""
        request = validate(cmd)

        async def add_and_read() -> dict[str, Any]:  # read at once, on the engine's loop: a
            # command not waited for is answered still queued, as the robot answers it
            added = await self._orchestrator.add_command_and_wait_for_interval(
                request, wait_until_complete=wait,
                timeout=None if timeout_s is None else int(timeout_s * 1000))
            return self._orchestrator.get_command(added.id).model_dump(mode="json")

        return self._call(add_and_read())

    def record(self, command_id: str) -> dict[str, Any] | None:
        try:
            return self._orchestrator.get_command(command_id).model_dump(mode="json")
        except CommandDoesNotExistError:
            return None

    def records(self) -> list[dict[str, Any]]:
        return [c.model_dump(mode="json") for c in self._orchestrator.get_all_commands()]

    def summary(self) -> dict[str, Any]:
        """The run's state summary (status, pipettes, labware, errors)."""
        return self._orchestrator.get_state_summary().model_dump(mode="json")

    def stop(self) -> None:
        self._call(self._orchestrator.stop())

    def run_status(self) -> str:
        """The engine's run status ("idle", "running", "stop-requested", "stopped", …)."""
        return str(self._orchestrator.get_run_status().value)

    def okay_to_clear(self) -> bool:
        """Whether the run is idle (never played) or over, so a new run may replace it."""
        return bool(self._orchestrator.get_is_okay_to_clear())

    def current_command(self) -> dict[str, Any] | None:
        """The command running, or else the last one to finish, as the robot points at it
        (``links.current`` of its command list)."""
        pointer = self._orchestrator.get_current_command()
        if pointer is None:
            return None
        return {"commandId": pointer.command_id, "key": pointer.command_key,
                "createdAt": pointer.created_at.isoformat(), "index": pointer.index}

    def last_completed(self) -> str | None:
        """The id of the last command to finish (``currentState``'s ``lastCompleted``)."""
        pointer = self._orchestrator.get_most_recently_finalized_command()
        return None if pointer is None else pointer.command_id

    def nozzle_layouts(self) -> dict[str, dict[str, Any]]:
        """Each loaded pipette's active nozzles, as the robot's ``currentState`` shows them."""
        return {pipette: {"startingNozzle": m.starting_nozzle,
                          "activeNozzles": list(m.map_store.keys()),
                          "config": m.configuration.value.lower()}
                for pipette, m in self._orchestrator.get_nozzle_maps().items()}

    def add_labware_offset(self, offset: dict[str, Any]) -> dict[str, Any]:
        """Store an offset (``definitionUri``, ``location``, ``vector``) that later loads of
        that labware there pick up; raises pydantic's ``ValidationError`` for a bad one."""
        from opentrons.protocol_engine.types import LegacyLabwareOffsetCreate

        request = LegacyLabwareOffsetCreate.model_validate(offset)
        return self._orchestrator.add_labware_offset(request).model_dump(mode="json")

    def finish(self) -> None:
        """End the run as the robot's server does when a new run replaces it or it is let
        go: tips stay where they are, the motors engaged where they stand."""
        from opentrons.protocol_engine.types import PostRunHardwareState

        self._call(self._orchestrator.finish(
            drop_tips_after_run=False, set_run_status=False,
            post_run_hardware_state=PostRunHardwareState.STAY_ENGAGED_IN_PLACE))

    def act(self, action: str) -> None:
        """A run action as the robot's ``/runs/{id}/actions`` takes it; raises Opentrons'
        own error when the run's state does not allow it (``RunStoppedError``, …)."""
        if action == "stop":
            self.stop()
            return

        async def on_the_engines_loop() -> None:  # the engine's state is not thread-safe
            if action == "play":
                first = not self._orchestrator.run_has_started()
                # the engine says if it may
                self._orchestrator.play(deck_configuration=self._deck_configuration)
                if first:  # start the run as the robot's server does: a task that ends, and
                    # finishes the engine, when the run is done or stopped
                    self._run_task = asyncio.ensure_future(self._orchestrator.run(
                        deck_configuration=self._deck_configuration))
            elif action == "pause":
                self._orchestrator.pause()
            else:
                self._orchestrator.resume_from_recovery(action.endswith("false-positive"))

        self._call(on_the_engines_loop())

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._call(self._orchestrator.finish(drop_tips_after_run=False,
                                                 set_run_status=False))
            self._call(self._hardware.clean_up())  # as SimulatingRunOrchestrator.finish
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
