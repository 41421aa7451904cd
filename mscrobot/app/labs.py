"""From a lab config to a ``Lab`` of devices (``mscrobot.app.feasibility`` checks the recipe
against the lab first), and what only a simulation knows beside it.

The simulated world is built only when the lab needs it (``LabConfig.simulated``: a simulated
device, or an emulator's physics link), and it follows every device that acts on it: the
stirrer's read-back speed, and each liquid-handling operation the robot confirmed
(``SimLiquidHandler`` attached to the Opentrons liquid handler as its follower; it answers for
the robot only where every device is simulated). Its time is the lab's clock: virtual where
every device is simulated, else the wall clock (sped up by the lab's one ``speedup`` for a lab
of emulators), which the world is kept at. A lab of real instruments builds no world. The World
is returned next to the ``Lab`` (``BuiltLab``), never inside it: the engine sees only devices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mscrobot.app.feasibility import PROBE_TOLERANCE_C, capacities, stirrer_max_rpm
from mscrobot.lab.config import LabConfig
from mscrobot.lab.protocols import (
    Clock,
    DeviceError,
    DeviceFaultError,
    Lab,
    LabRefusalError,
    LiquidHandler,
    Spectrometer,
    Stirrer,
    TransientDeviceError,
)
from mscrobot.lab.simulated.world import Timing, World, WorldSpec
from mscrobot.lab.tracking import VesselState, VesselTracker
from mscrobot.recipe.models import Recipe
from mscrobot.recipe.vessels import VIAL_TYPES
from mscrobot.spectra.types import FloatArray
from mscrobot.twin.optics import Instrument
from mscrobot.twin.params import TwinParams
from mscrobot.yamldoc import DocumentError


def start_vessels(config: LabConfig, recipe: Recipe) -> dict[str, VesselState]:
    """Every deck position as a run starts it: capacity and what it holds."""
    caps = capacities(config, recipe)
    return {name: VesselState(caps[name], float(pos.volume.m_as("uL")))
            for name, pos in config.deck.items()}


def start_tracker(config: LabConfig, recipe: Recipe) -> VesselTracker:
    """A liquid handler's tracker as the run starts (the reaction vial: the recipe's vessel,
    whose holder the lab check matched)."""
    return VesselTracker(start_vessels(config, recipe),
                         VIAL_TYPES[recipe.vessel].inner_diameter_mm)


@dataclass
class BuiltLab:
    """A lab and the simulated world its simulated parts share (None: nothing simulated)."""

    lab: Lab
    world: World | None


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


def _stirrer(config: LabConfig, recipe: Recipe, world: World | None,
             closers: list[Callable[[], None]],
             keepalives: list[Callable[[], object]]) -> Stirrer:
    from mscrobot.lab.simulated.devices import SimStirrer

    st = config.stirrer
    if st.backend == "simulated":
        assert world is not None
        return SimStirrer(world, stirrer_max_rpm(config), st.fault_after)
    from mscrobot.lab.stirrer.ika import open_stirrer

    assert st.url is not None
    try:
        device = open_stirrer(st.url, st.profile, timeout_s=st.timeout_s,
                              speedup=config.speedup,
                              watchdog_s=None if st.watchdog is None
                              else int(st.watchdog.m_as("s")))
    except (OSError, DocumentError, ValueError) as e:
        raise DeviceFaultError(f"stirrer at {st.url}: {e}") from None
    closers.append(device.close)
    keepalives.append(device.refresh)  # the watchdog follows the engine's loop
    if st.temperature_probe:
        try:
            read_c = device.temperature()
        except TransientDeviceError as e:
            raise DeviceFaultError(f"stirrer.temperature_probe is true but the probe does not "
                                   f"answer (is it plugged in?): {e}") from None
        _check_probe(read_c, float(recipe.exchange.temperature.m_as("degC")))
    return device if world is None else WorldStirrer(device, world)


def _check_probe(read_c: float, recipe_c: float) -> None:
    """The vial as the run starts must be at the recipe's temperature: mscrobot does not heat,
    so a vial far from it (a plate still hot from a colleague's run) is refused."""
    if abs(read_c - recipe_c) > PROBE_TOLERANCE_C:
        raise LabRefusalError(f"the stirrer's temperature probe reads {read_c:.1f} °C; the "
                              f"recipe asks {recipe_c:g} °C and mscrobot does not heat or "
                              f"cool: wait for the vial to reach it (within "
                              f"{PROBE_TOLERANCE_C:g} °C)")


def _spectrometer(config: LabConfig, recipe: Recipe, world: World | None,
                  closers: list[Callable[[], None]],
                  operator: Callable[[str, float], bool] | None) -> Spectrometer:
    from mscrobot.lab.simulated.devices import SimSpectrometer

    sp = config.spectrometer
    if sp.backend == "simulated":
        assert world is not None
        return SimSpectrometer(world)
    from mscrobot.lab.spectrometer.ocean import (
        OceanLabSpectrometer,
        OceanSettings,
        OceanSpectrometer,
    )

    shutter: Callable[[bool], None] | None = None
    if sp.physics is not None:
        from mscrobot.lab.spectrometer.physics import PhysicsLink

        assert world is not None
        link = PhysicsLink(sp.physics)
        closers.append(link.close)
        link.model(world.model)
        link.cell(world.contents())
        world.cell_watchers.append(link.cell)
        if sp.dark is None:  # the emulator's shortcut: the lamp follows the world's link
            shutter = link.shutter
    if sp.shutter is not None:
        from mscrobot.lab.spectrometer.shutter import TtlShutter

        ttl = TtlShutter(sp.shutter.url, sp.shutter.line, sp.shutter.closed_when == "high")
        ttl.open()
        closers.append(ttl.release)
        shutter = ttl
    if sp.dark == "operator" and operator is None:
        raise LabRefusalError("spectrometer.dark: operator, but this run has no operator to "
                              "ask (start it from a terminal)")
    settings = OceanSettings(address=sp.address, model=sp.model, serial=sp.serial,
                             usb_backend=usb_backend(sp.usb_emulator),
                             io_timeout_s=sp.timeout_s, dark=sp.dark_mode,
                             nonlinearity=sp.nonlinearity,
                             operator_timeout_s=float(sp.operator_timeout.m_as("s")),
                             settle_s=0.05 if sp.shutter is None
                             else sp.shutter.settle_s,
                             integration_ms=sp.integration_ms, scans=sp.scans)
    device = OceanSpectrometer(settings, shutter, operator)
    try:
        device.open()
    except (DeviceError, OSError) as e:
        device.close()
        kind = LabRefusalError if isinstance(e, LabRefusalError) else DeviceFaultError
        raise kind(f"spectrometer at {sp.address or 'USB ' + sp.model}: {e}") from None
    closers.append(device.close)
    _check_range(config, recipe, device.wavelengths_nm)
    return OceanLabSpectrometer(device)


def usb_backend(emulator: str | None) -> object | None:
    """The pyusb backend a USB spectrometer is found with: the bus's (None), or an emulated
    device's transfers over TCP (``spectrometer.usb_emulator``)."""
    if emulator is None:
        return None
    from mscrobot.lab.spectrometer.ooi_emulator import EmulatedUsbBackend, RemoteUsbDevice

    return EmulatedUsbBackend(RemoteUsbDevice(emulator))


def _check_range(config: LabConfig, recipe: Recipe, wavelengths: FloatArray) -> None:
    """The device's own axis must cover the lab file's range and the recipe's bands (checked
    at open, before anything moves: a lab file copied from another model is caught here)."""
    from mscrobot.procedure.reading import analysis_windows

    sp = config.spectrometer
    lo, hi = float(np.min(wavelengths)), float(np.max(wavelengths))
    want = (float(sp.range_min.m_as("nm")), float(sp.range_max.m_as("nm")))
    problems = []
    if want[0] < lo or want[1] > hi:
        problems.append(f"the lab file's range {want[0]:g}-{want[1]:g} nm "
                        "(spectrometer.range_min/range_max)")
    w = analysis_windows(recipe)
    need = (w.window[0], w.scatter_window[1])
    if need[0] < lo or need[1] > hi:
        bands = sorted({b for v in w.band_sets.values() for b in v})
        problems.append(f"the recipe's bands ({', '.join(f'{b:g}' for b in bands)} nm) with "
                        f"their baseline, {need[0]:g}-{need[1]:g} nm")
    if problems:
        raise LabRefusalError(f"the {sp.model} reads {lo:.1f}-{hi:.1f} nm; it cannot cover "
                              + " or ".join(problems))


def _liquid_handler(config: LabConfig, recipe: Recipe, world: World | None,
                    state_dir: Path | None, closers: list[Callable[[], None]]) -> LiquidHandler:
    from mscrobot.lab.simulated.devices import SimLiquidHandler

    lh = config.liquid_handler
    twin = None if world is None else SimLiquidHandler(world, lh.reports_outcomes,
                                                       lh.transient_failures)
    if lh.backend == "simulated":
        assert twin is not None
        return twin
    from mscrobot.app.tips import check_tips, stock_for
    from mscrobot.lab.opentrons.handler import open_opentrons
    from mscrobot.lab.opentrons.oplog import LOG_NAME, OpLog

    stock = stock_for(config)  # a robot over HTTP: its racks as earlier runs left them
    log = None if state_dir is None else state_dir / LOG_NAME
    check_tips(recipe, config, stock, OpLog.read(log).tips if log and log.exists() else None)
    robot = open_opentrons(config, start_tracker(config, recipe), state_dir, follower=twin,
                           stock=stock, follower_answers=not config.real_devices)
    closers.append(robot.close)
    return robot


def assemble_lab(config: LabConfig, recipe: Recipe, seed: int, state_dir: Path | None,
                 params: TwinParams | None = None, instrument: Instrument | None = None,
                 operator: Callable[[str, float], bool] | None = None) -> BuiltLab:
    """The devices of ``config``, and the World they share if the lab simulates anything,
    persisted in ``state_dir/world.jsonl`` so a resumed run finds the vial as the crash left
    it (``state_dir`` None: all kept in memory). ``params`` and ``instrument`` change the
    twin (tests, benchmarks). ``operator`` asks a person to act (``spectrometer.dark:
    operator``): a question and a timeout in, whether it was done in time out; while it waits,
    the lab's keepalives are its own business (``console_operator`` calls them)."""
    from mscrobot.lab.clock import LOG_NAME, WallClock
    from mscrobot.lab.simulated.devices import VirtualClock, WorldOnWallClock

    world = None
    if config.simulated:
        lh = config.liquid_handler
        timing = Timing(dispense_s=float(lh.dispense_time.m_as("s")),
                        sample_s=float(lh.sample_time.m_as("s")))
        path_cm = float(config.spectrometer.path_length.m_as("cm"))  # the lab's flow cell
        world = World(WorldSpec(recipe, seed, start_vessels(config, recipe), timing,
                                params or TwinParams(path_cm=path_cm),
                                instrument or Instrument()),
                      None if state_dir is None else state_dir / "world.jsonl")
    clock: Clock
    closing: list[Callable[[], None]] = [] if world is None else [world.close]
    if config.clock == "wall":
        wall = WallClock(None if state_dir is None else state_dir / LOG_NAME,
                         speedup=config.speedup)
        closing.append(wall.close)
        clock = wall if world is None else WorldOnWallClock(world, wall)
    else:
        assert world is not None, "a lab that simulates nothing keeps real time"
        clock = VirtualClock(world)

    def last() -> None:
        for close in closing:
            close()
    closers: list[Callable[[], None]] = []  # the devices, closed before the world or clock
    keepalives: list[Callable[[], object]] = []
    try:
        stirrer = _stirrer(config, recipe, world, closers, keepalives)
        spectrometer = _spectrometer(config, recipe, world, closers, operator)
        handler = _liquid_handler(config, recipe, world, state_dir, closers)
    except BaseException:
        for close in [*reversed(closers), last]:
            close()
        raise
    lab = Lab(config.name, clock, handler, stirrer, spectrometer, closers=[*closers, last],
              keepalives=keepalives)
    if operator is not None and hasattr(operator, "keepalive"):
        operator.keepalive = lab.keep_alive  # an operator's wait keeps the watchdog alive
    return BuiltLab(lab, world)


def build_lab(config: LabConfig, recipe: Recipe, seed: int, state_dir: Path | None,
              params: TwinParams | None = None, instrument: Instrument | None = None,
              operator: Callable[[str, float], bool] | None = None) -> Lab:
    """The devices of ``config`` (``assemble_lab`` without the world)."""
    return assemble_lab(config, recipe, seed, state_dir, params, instrument, operator).lab
