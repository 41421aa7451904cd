"""From a lab config to a ``Lab`` of devices, after checking the lab can do the recipe.

``check_lab`` runs before any step: a lab without a vessel the plan uses, a stock too small, a
reaction vessel that would overflow, a stirrer too slow or a spectrometer blind to the bands
is refused with every reason at once, and nothing has been touched.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
from mscrobot.procedure.plan import VESSELS, worst_case_volumes
from mscrobot.procedure.reading import analysis_windows
from mscrobot.recipe.models import Recipe
from mscrobot.recipe.vessels import VESSELS as VESSEL_TYPES
from mscrobot.twin.optics import Instrument
from mscrobot.twin.params import TwinParams
from mscrobot.yamldoc import DocumentError

#: The simulated stirrer's top speed when the lab file gives none (a typical hotplate stirrer).
DEFAULT_MAX_RPM = 1500.0


def capacities(config: LabConfig, recipe: Recipe) -> dict[str, float]:
    out = {}
    for name, pos in config.deck.items():
        if pos.capacity is not None:
            out[name] = float(pos.capacity.m_as("uL"))
        elif name == "reaction":
            out[name] = VESSEL_TYPES[recipe.vessel].max_fill_ml * 1000.0
        else:
            out[name] = float("inf")
    return out


def check_lab(config: LabConfig, recipe: Recipe) -> list[str]:
    """Every reason this lab cannot run this recipe (empty: it can)."""
    problems = [f"deck has no '{v}' position" for v in VESSELS if v not in config.deck]
    if problems:
        return problems
    caps = capacities(config, recipe)
    need = worst_case_volumes(recipe)
    for stock in ("salt_stock", "cluster_stock", "hexane_stock", "ola_stock"):
        have = float(config.deck[stock].volume.m_as("uL"))
        if need[stock] > have + 1e-9:
            problems.append(f"{stock} holds {have:.0f} µL; the recipe may need "
                            f"{need[stock]:.0f} µL")
    if need["reaction"] > caps["reaction"] + 1e-9:
        problems.append(f"the reaction vessel holds at most {caps['reaction']:.0f} µL; the "
                        f"recipe may fill it with {need['reaction']:.0f} µL")
    if need["flow_cell"] > caps["flow_cell"] + 1e-9:
        problems.append(f"the flow cell holds {caps['flow_cell']:.0f} µL; samples are "
                        f"{need['flow_cell']:.0f} µL")
    rpms = [float(recipe.exchange.stir_rate.m_as("rpm"))]
    if recipe.back_exchange.enabled and recipe.back_exchange.stir_rate is not None:
        rpms.append(float(recipe.back_exchange.stir_rate.m_as("rpm")))
    top = stirrer_max_rpm(config)
    problems += [f"the stirrer reaches {top:.0f} rpm; the recipe asks {r:.0f} rpm"
                 for r in rpms if r > top]
    w = analysis_windows(recipe)
    lo, hi = (float(config.spectrometer.range_min.m_as("nm")),
              float(config.spectrometer.range_max.m_as("nm")))
    if w.window[0] < lo or w.scatter_window[1] > hi:
        problems.append(f"the spectrometer covers {lo:.0f}–{hi:.0f} nm; the analysis needs "
                        f"{w.window[0]:.0f}–{w.scatter_window[1]:.0f} nm")
    if config.spectrometer.backend == "ocean" and config.spectrometer.physics is None:
        problems.append("the spectrometer has no way to close the light path for darks: only "
                        "an emulator's physics link (spectrometer.physics) provides a shutter "
                        "so far")
    if config.liquid_handler.backend == "opentrons":
        from mscrobot.lab.opentrons.layout import check_deck

        problems += check_deck(config, recipe.vessel)
    return problems


def start_vessels(config: LabConfig, recipe: Recipe) -> dict[str, VesselState]:
    """Every deck position as the simulated world starts it: capacity and what it holds."""
    caps = capacities(config, recipe)
    return {name: VesselState(caps[name], float(pos.volume.m_as("uL")))
            for name, pos in config.deck.items()}


def stirrer_max_rpm(config: LabConfig) -> float:
    st = config.stirrer
    if st.max_rpm is not None:
        return float(st.max_rpm.m_as("rpm"))
    if st.backend == "ika":
        from mscrobot.lab.stirrer.profiles import load_profile

        return load_profile(st.profile).max_rpm
    return DEFAULT_MAX_RPM


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
