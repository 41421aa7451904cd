"""From a lab config to a ``Lab`` of devices (``mscrobot.app.feasibility`` checks the recipe
against the lab first)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mscrobot.app.feasibility import capacities, stirrer_max_rpm
from mscrobot.lab.config import LabConfig
from mscrobot.lab.protocols import (
    DeviceError,
    DeviceFaultError,
    Lab,
    LiquidHandler,
    Spectrometer,
    Stirrer,
)
from mscrobot.lab.simulated.world import Timing, VesselState, World, WorldSpec
from mscrobot.recipe.models import Recipe
from mscrobot.twin.optics import Instrument
from mscrobot.twin.params import TwinParams
from mscrobot.yamldoc import DocumentError


def start_vessels(config: LabConfig, recipe: Recipe) -> dict[str, VesselState]:
    """Every deck position as the simulated world starts it: capacity and what it holds."""
    caps = capacities(config, recipe)
    return {name: VesselState(caps[name], float(pos.volume.m_as("uL")))
            for name, pos in config.deck.items()}


class WorldStirrer:
    """A real (or emulated) stirrer whose read-back speed drives the simulated vial: the twin
    changes only after the device confirms, as a tracker should (PyLabRobot #427)."""

    def __init__(self, device: Stirrer, world: World) -> None:
        self.device, self.world = device, world

    def set_speed(self, rpm: float) -> float:
        read = self.device.set_speed(rpm)
        self.world.stir(read)
        return read

    def speed(self) -> float:
        return self.device.speed()


def _stirrer(config: LabConfig, world: World, closers: list[Callable[[], None]]) -> Stirrer:
    from mscrobot.lab.simulated.devices import SimStirrer

    st = config.stirrer
    if st.backend == "simulated":
        return SimStirrer(world, stirrer_max_rpm(config), st.fault_after)
    from mscrobot.lab.stirrer.ika import open_stirrer

    assert st.url is not None
    try:
        device = open_stirrer(st.url, st.profile, timeout_s=st.timeout_s, speedup=st.speedup,
                              watchdog_s=None if st.watchdog is None
                              else int(st.watchdog.m_as("s")))
    except (OSError, DocumentError, ValueError) as e:
        raise DeviceFaultError(f"stirrer at {st.url}: {e}") from None
    closers.append(device.close)
    return WorldStirrer(device, world)


def _spectrometer(config: LabConfig, world: World,
                  closers: list[Callable[[], None]]) -> Spectrometer:
    from mscrobot.lab.simulated.devices import SimSpectrometer

    sp = config.spectrometer
    if sp.backend == "simulated":
        return SimSpectrometer(world)
    from mscrobot.lab.spectrometer.ocean import (
        OceanLabSpectrometer,
        OceanSettings,
        OceanSpectrometer,
    )

    shutter = None
    if sp.physics is not None:
        from mscrobot.lab.spectrometer.physics import PhysicsLink

        link = PhysicsLink(sp.physics)
        closers.append(link.close)
        link.model(world.model)
        link.cell(world.contents())
        world.cell_watchers.append(link.cell)
        shutter = link.shutter
    settings = OceanSettings(address=sp.address, model=sp.model, serial=sp.serial,
                             io_timeout_s=sp.timeout_s,
                             integration_ms=sp.integration_ms, scans=sp.scans)
    device = OceanSpectrometer(settings, shutter)
    try:
        device.open()
    except (DeviceError, OSError) as e:
        raise DeviceFaultError(f"spectrometer at {sp.address or 'USB ' + sp.model}: "
                               f"{e}") from None
    closers.append(device.close)
    return OceanLabSpectrometer(device)


def build_lab(config: LabConfig, recipe: Recipe, seed: int, state_dir: Path | None,
              params: TwinParams | None = None, instrument: Instrument | None = None) -> Lab:
    """The devices of ``config``. Simulated devices share one World, persisted in
    ``state_dir/world.jsonl`` so a resumed run finds the vial as the crash left it (None: kept
    in memory). ``params`` and ``instrument`` change the twin (tests, benchmarks)."""
    from mscrobot.lab.simulated.devices import SimLiquidHandler, VirtualClock

    vessels = start_vessels(config, recipe)
    lh = config.liquid_handler
    timing = Timing(dispense_s=float(lh.dispense_time.m_as("s")),
                    sample_s=float(lh.sample_time.m_as("s")))
    world = World(WorldSpec(recipe, seed, vessels, timing, params or TwinParams(),
                            instrument or Instrument()),
                  None if state_dir is None else state_dir / "world.jsonl")
    closers: list[Callable[[], None]] = []
    try:
        stirrer = _stirrer(config, world, closers)
        spectrometer = _spectrometer(config, world, closers)
    except BaseException:
        for close in reversed(closers):
            close()
        world.close()
        raise
    sim = SimLiquidHandler(world, lh.reports_outcomes, lh.transient_failures)
    handler: LiquidHandler = sim
    if lh.backend == "opentrons":
        from mscrobot.lab.opentrons.handler import open_opentrons

        try:
            robot = open_opentrons(config, sim, state_dir)
        except BaseException:
            for close in [*reversed(closers), world.close]:
                close()
            raise
        handler, closers = robot, [*closers, robot.close]
    return Lab(config.name, VirtualClock(world), handler, stirrer, spectrometer,
               truth=world.truth, closers=[*closers, world.close])
