"""Simulated devices over one ``World``: what the default lab's instruments do in a dry run.

Each implements its Protocol from ``mscrobot.lab.protocols`` and fails the way a real device
would: refusals before acting (overfill, empty stock, speed out of range), transient errors that
did nothing, device faults. Fault injection comes from the lab config.

``SimLiquidHandler`` is also what a robot in front of the simulated world follows (a
``mscrobot.lab.tracking.Follower``): the composition attaches it to the Opentrons liquid
handler, which tells it each operation before sending anything (the injected transient
failures are raised there) and once the robot has carried it out (the world then moves the
liquid), and asks it about an operation only where the robot cannot say.
"""

from __future__ import annotations

from mscrobot.lab.protocols import (
    Clock,
    DeviceFaultError,
    LabRefusalError,
    OpStatus,
    TransientDeviceError,
)
from mscrobot.lab.simulated.world import World
from mscrobot.lab.tracking import Move
from mscrobot.spectra.types import Spectrum


class VirtualClock:
    """Time that passes only when the run waits: a 2-hour exchange runs in seconds."""

    real_time = False

    def __init__(self, world: World) -> None:
        self.world = world

    def now(self) -> float:
        return self.world.t

    def sleep_until(self, t: float) -> None:
        self.world.advance(t)


class WorldOnWallClock:
    """The simulated world kept at real time: a lab whose real or emulated devices keep real
    time, with parts simulated beside them (the emulated lab's vial and flow cell). The world
    is brought up to the wall clock whenever the run reads the time or waits, so the vial
    stirs, settles and transfers for as long as the devices really took. What the world times
    itself (a simulated dispense's or sample's ``dispense_time``/``sample_time``, which an
    emulated robot answering at once does not take) lasts that long on the wall clock too:
    reading the time waits for the wall to catch up, as a robot's command is waited out, so
    the vial sees the lab's time line as on the simulated lab."""

    real_time = True

    def __init__(self, world: World, wall: Clock) -> None:
        self.world, self.wall = world, wall

    def now(self) -> float:
        if self.world.t > self.wall.now():
            self.wall.sleep_until(self.world.t)
        t = self.wall.now()
        self.world.advance(t)
        return t

    def sleep_until(self, t: float) -> None:
        self.wall.sleep_until(t)
        self.world.advance(self.wall.now())


class SimLiquidHandler:
    def __init__(self, world: World, reports_outcomes: bool = True,
                 transient_failures: int = 0) -> None:
        self.world = world
        self.reports_outcomes = reports_outcomes
        self._transient_left = transient_failures

    def fail_if_injected(self, what: str) -> None:
        """An injected transient failure (``transient_failures`` in the lab config), raised
        before anything moved."""
        if self._transient_left > 0:
            self._transient_left -= 1
            raise TransientDeviceError(f"liquid handler busy: {what} not started (injected)")

    def dispense(self, op_id: str, source: str, dest: str, volume_ul: float, layer: str) -> None:
        self.fail_if_injected("dispense")
        self.world.dispense(op_id, source, dest, volume_ul, layer)

    def sample(self, op_id: str, vessel: str, phase: str, volume_ul: float,
               depth_mm: float = 0.0) -> float:
        self.fail_if_injected("sample")
        return self.world.sample(op_id, vessel, phase, volume_ul, depth_mm)

    def return_sample(self, op_id: str, vessel: str, phase: str, volume_ul: float) -> None:
        self.world.return_sample(op_id, vessel, phase, volume_ul)

    def flush_cell(self, op_id: str) -> None:
        self.world.flush(op_id)

    def status_of(self, op_id: str) -> OpStatus:
        if not self.reports_outcomes:
            return "unknown"
        return "done" if op_id in self.world.done_ops else "not_done"

    def volumes(self) -> dict[str, float]:
        return self.world.tracker.volumes()

    # --- following a robot (``mscrobot.lab.tracking.Follower``) -----------------------------

    def before(self, op_id: str, move: Move) -> None:
        """Before a robot sends the commands: dispenses and samples may fail as injected, as
        they do without a robot (before a tip is counted as taken)."""
        if move.kind in ("dispense", "sample"):
            self.fail_if_injected(move.kind)

    def confirmed(self, op_id: str, move: Move) -> None:
        """The robot carried ``move`` out: the world moves the liquid, once."""
        if op_id in self.world.done_ops:
            return
        if move.kind == "dispense":
            self.world.dispense(op_id, move.source, move.dest, move.volume_ul, move.phase)
        elif move.kind == "sample":
            self.world.sample(op_id, move.source, move.phase, move.volume_ul, move.depth_mm)
        elif move.kind == "return":
            self.world.return_sample(op_id, move.dest, move.phase, move.volume_ul)
        else:
            self.world.flush(op_id)


class SimStirrer:
    def __init__(self, world: World, max_rpm: float, fault_after: int | None = None) -> None:
        self.world = world
        self.max_rpm = max_rpm
        self.fault_after = fault_after
        self.changes = 0

    def set_speed(self, rpm: float) -> float:
        if not 0 <= rpm <= self.max_rpm:
            raise LabRefusalError(f"stirrer speed {rpm:g} rpm is outside 0–{self.max_rpm:g} rpm")
        n, self.changes = self.changes, self.changes + 1
        if self.fault_after is not None and n >= self.fault_after and rpm > 0:
            self.world.stir(0.0)
            raise DeviceFaultError(f"stirrer reached 0 of {rpm:g} rpm: magnet decoupled "
                              "(injected fault); motor stopped")
        self.world.stir(rpm)
        return rpm

    def speed(self) -> float:
        return self.world.rpm


class SimSpectrometer:
    def __init__(self, world: World) -> None:
        self.world = world

    def reference(self, op_id: str, blank: str, integration_ms: float | None = None
                  ) -> tuple[Spectrum, Spectrum]:
        return self.world.reference(blank, integration_ms)

    def measure(self, op_id: str, integration_ms: float) -> Spectrum:
        return self.world.measure(integration_ms)
