"""What the engine needs from each instrument: small Protocols, one per device role.

Backends (simulated, emulated over real byte streams, real hardware) implement these; the engine
knows nothing else about them. Errors are split the way the engine must treat them:
``TransientDeviceError`` (a timeout, a busy device, a lost connection) may be retried;
``DeviceFaultError`` (the device reports a fault, a motor that does not reach its speed) and
``LabRefusalError`` (a step the lab will not do: overfill, unknown vessel) never are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from mscrobot.spectra.types import Spectrum

#: What a device can say about an operation it may or may not have carried out.
OpStatus = Literal["done", "not_done", "unknown"]


class DeviceError(Exception):
    """Base of errors a device backend raises."""


class TransientDeviceError(DeviceError):
    """Worth retrying: the device did nothing (timeout before sending, busy, reconnecting)."""


class DeviceFaultError(DeviceError):
    """The device reported a fault or misbehaved; the run must stop safely."""


class LabRefusalError(DeviceError):
    """The lab refuses an action before doing anything (overfill, unknown vessel, no tip)."""


class OperationInterrupted(DeviceError):  # noqa: N818 (a stop, not an error)
    """A stop request cut an operation short at a safe point; whether it happened (wholly,
    in part, or not at all) is for ``status_of`` to say."""


#: One step of a device's safe stop: what it does (said in the journal) and the call that
#: does it, returning what it found ("no tip on the p300") or raising ``DeviceError``.
StopAction = tuple[str, Callable[[], str]]


@runtime_checkable
class StopsSafely(Protocol):
    """A device that has more to do than its role's calls to be left safe (a robot: its
    motion stopped, its tip emptied and dropped, its arm homed)."""

    def watch(self, stop: threading.Event) -> None:
        """Look at ``stop`` between the commands of an operation: once it is set, end the
        operation at the next safe point with ``OperationInterrupted``."""

    def stop_actions(self) -> list[StopAction]:
        """The safe stop's steps, in order; each is tried even if one before it failed."""


@runtime_checkable
class Clock(Protocol):
    """The run's time in seconds. Virtual in dry runs (waiting costs nothing), wall in labs.

    ``real_time``: waiting takes real time, so a long wait is slept in short pieces between
    which a stop request is seen (a virtual clock's wait is one jump)."""

    real_time: bool

    def now(self) -> float: ...

    def sleep_until(self, t: float) -> None: ...


@runtime_checkable
class LiquidHandler(Protocol):
    """Moves liquid between named vessels; every operation carries the engine's ``op_id``."""

    def dispense(self, op_id: str, source: str, dest: str, volume_ul: float,
                 layer: str) -> None: ...

    def sample(self, op_id: str, vessel: str, phase: str, volume_ul: float,
               depth_mm: float = 0.0) -> float:
        """Draw from one phase of ``vessel`` into the flow cell with a fresh tip; returns the
        tip height (mm) chosen from the tracked layer volumes (the alkane on top, the polar
        phase below), ``depth_mm`` further from the interface than the usual height."""

    def return_sample(self, op_id: str, vessel: str, phase: str, volume_ul: float) -> None: ...

    def flush_cell(self, op_id: str) -> None: ...

    def status_of(self, op_id: str) -> OpStatus:
        """Whether operation ``op_id`` happened, if the device can tell (else 'unknown')."""

    def volumes(self) -> dict[str, float]:
        """The volume the handler believes each vessel holds (µL)."""


@runtime_checkable
class RecordsCommands(Protocol):
    """A liquid handler that is a robot keeping its own record of commands (Opentrons): the
    engine journals each operation's command ids with its outcome."""

    def command_ids(self, op_id: str) -> list[str]: ...


@runtime_checkable
class Stirrer(Protocol):
    def set_speed(self, rpm: float) -> float:
        """Set the speed (0 stops) and return the speed read back from the device."""

    def speed(self) -> float: ...


@runtime_checkable
class Spectrometer(Protocol):
    """Reads the flow cell. A reference is taken once per blank with that blank in the cell; the
    plan keeps the returned dark and reference (they are journaled, so they survive a crash that
    a driver's memory would not) and asks for samples at the reference's integration time."""

    def reference(self, op_id: str, blank: str, integration_ms: float | None = None
                  ) -> tuple[Spectrum, Spectrum]:
        """With a blank in the cell: choose the integration time for it (or use
        ``integration_ms``: a longer one to read a dim cell), read a dark (light path closed)
        and the blank. Returns (dark, reference), both at that integration time."""

    def measure(self, op_id: str, integration_ms: float) -> Spectrum:
        """Read what is in the cell at ``integration_ms`` (the reference's)."""


@dataclass
class Lab:
    """The instruments of one lab, as the engine sees them."""

    name: str
    clock: Clock
    liquid_handler: LiquidHandler
    stirrer: Stirrer
    spectrometer: Spectrometer
    closers: list[Callable[[], None]] = field(default_factory=list)
    #: called from the engine's own loop (each step, and every ``WAKE_S`` of a real-time
    #: wait): a device watchdog refreshed here trips when the engine hangs, as it should
    keepalives: list[Callable[[], object]] = field(default_factory=list)

    def keep_alive(self) -> None:
        """Let each device know the engine is alive (each is cheap when not due)."""
        for refresh in self.keepalives:
            refresh()

    def close(self) -> None:
        for close in self.closers:
            close()
