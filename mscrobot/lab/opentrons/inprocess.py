"""Opentrons' protocol engine in this process, on simulated hardware: the dry-run robot.

Set up as ``opentrons.protocol_runner.create_simulating_orchestrator`` does it (the hardware
simulator for the robot type, the Flex's being the OT-3 one; an engine that ignores pauses and
uses virtual pipettes, modules, gripper and a simulated deck configuration; never recovering
from errors), then built with ``RunOrchestrator.build_orchestrator`` as the robot's server
builds its runs. Commands go in with ``add_command_and_wait_for_interval(...,
wait_until_complete=True)`` and are re-read by id, as the robot's HTTP API answers them.

The engine is asyncio; mscrobot's engine is not, and may itself run inside an event loop
(Prefect), so the orchestrator lives on its own loop in a daemon thread and each call waits for
its coroutine there.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from opentrons.protocol_engine import Config, DeckType, error_recovery_policy
from opentrons.protocol_engine.create_protocol_engine import create_protocol_engine
from opentrons.protocol_engine.errors import CommandDoesNotExistError, ProtocolEngineError
from opentrons.protocol_runner import RunOrchestrator
from opentrons.protocols.api_support import deck_type
from opentrons_shared_data.labware.labware_definition import LabwareDefinition2

from mscrobot.lab.opentrons.backend import (
    ROBOT_TYPES,
    CommandResult,
    result_from_json,
    tips_left,
)
from mscrobot.lab.opentrons.commands import Command, validate
from mscrobot.lab.protocols import DeviceFaultError

T = TypeVar("T")

#: Seconds to wait for one command; the simulator finishes in milliseconds.
COMMAND_TIMEOUT_S = 60.0


def _quiet_opentrons() -> None:
    """Opentrons logs each failed command with a traceback; the failure reaches the user as
    the command's error text instead, so its loggers stay at CRITICAL."""
    logging.getLogger("opentrons").setLevel(logging.CRITICAL)


async def _build(robot_type: str) -> tuple[RunOrchestrator, Any]:
    if robot_type == "OT-3 Standard":
        from opentrons.hardware_control.ot3api import OT3API

        hardware: Any = await OT3API.build_hardware_simulator()
    else:
        from opentrons.hardware_control import API

        hardware = await API.build_hardware_simulator()
    # create_simulating_orchestrator homes the hardware too: its engine relies on it (EXEC-646)
    await hardware.home()
    engine = await create_protocol_engine(
        hardware_api=hardware,
        config=Config(robot_type=robot_type,  # type: ignore[arg-type]
                      deck_type=DeckType(deck_type.for_simulation(robot_type)),  # type: ignore[arg-type]
                      ignore_pause=True, use_virtual_modules=True, use_virtual_gripper=True,
                      use_simulated_deck_config=True, use_virtual_pipettes=True),
        error_recovery_policy=error_recovery_policy.never_recover,
        # no fixed-trash labware: trash is an addressable area, as for apiLevel >= 2.16
        # protocols (should_load_fixed_trash) and live runs
        load_fixed_trash=False,
    )
    return (RunOrchestrator.build_orchestrator(hardware_api=hardware, protocol_engine=engine),
            hardware)


class InProcessBackend:
    """A simulated OT-2 or Flex (``robot`` as a lab file says it: "OT-2" or "Flex")."""

    def __init__(self, robot: str = "OT-2") -> None:
        _quiet_opentrons()
        self.robot_type = ROBOT_TYPES[robot]
        self.run_id = str(uuid.uuid4())
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="opentrons-engine")
        self._thread.start()
        self._run_task: asyncio.Future[Any] | None = None
        try:
            self._orchestrator, self._hardware = self._call(_build(self.robot_type))
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
        return tips_left(self.records()) if self.run_id in run_ids else set()

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
        added = self._call(self._orchestrator.add_command_and_wait_for_interval(
            request, wait_until_complete=wait,
            timeout=None if timeout_s is None else int(timeout_s * 1000)))
        return self._orchestrator.get_command(added.id).model_dump(mode="json")

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

    def act(self, action: str) -> None:
        """A run action as the robot's ``/runs/{id}/actions`` takes it; raises Opentrons'
        own error when the run's state does not allow it (``RunStoppedError``, …)."""
        if action == "stop":
            self.stop()
            return

        async def on_the_engines_loop() -> None:  # the engine's state is not thread-safe
            if action == "play":
                first = not self._orchestrator.run_has_started()
                self._orchestrator.play(deck_configuration=[])  # the engine says if it may
                if first:  # start the run as the robot's server does: a task that ends, and
                    # finishes the engine, when the run is done or stopped
                    self._run_task = asyncio.ensure_future(self._orchestrator.run(
                        deck_configuration=[]))
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
