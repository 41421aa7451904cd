"""The simulated lab's physical world: stock vials, the reaction vial's twin, the flow cell, time.

In a real lab the liquids outlive the computer: a crash of the orchestrator does not undo a
dispense. The simulated world gets the same property from an append-only event log (one JSON line
per physical action, written in one ``write`` call, so a killed process leaves each action either
wholly recorded or not at all). Rebuilding the world replays the log into a fresh twin: the
twin is deterministic for a seed and a sequence of actions, so the rebuilt vial is the one that
was there. A half-written last line is an action that never happened.

Spectra are not logged: reading the cell changes nothing. Their noise comes from a generator
keyed by (seed, cell load, read number), so reading the same cell again after a crash returns
the spectrum the lost read would have returned.

Volumes, layers and the checks that refuse an action before it happens are a
``mscrobot.lab.tracking.VesselTracker``, the same bookkeeping the Opentrons liquid handler
keeps: for the same actions the two hold the same numbers. On a lab with a robot in front the
world is that robot's follower (``SimLiquidHandler``): it applies each operation once the robot
has carried it out.

Time: the world's clock is virtual. ``advance`` is logged; the twin's own clock starts when the
two phases first meet (twin time = world time - that moment), as the twin's kinetics assume.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mscrobot.chemistry import OLEYLAMINE
from mscrobot.lab.tracking import REACTION, VesselState, VesselTracker
from mscrobot.recipe.models import Recipe
from mscrobot.recipe.vessels import VIAL_TYPES
from mscrobot.spectra.types import FloatArray, Spectrum
from mscrobot.storage.eventlog import EventLog
from mscrobot.twin.absorbance import SpectralModel
from mscrobot.twin.optics import (
    Instrument,
    auto_integration_ms,
    hdx_wavelength_coefficients,
    light_counts,
    read_counts,
    wavelengths,
)
from mscrobot.twin.params import TwinParams
from mscrobot.twin.vial import CellContents, FlowCell, VialTwin

#: Neat oleylamine, mol/L (density / molar mass).
OLA_NEAT_MOLAR = OLEYLAMINE.density_g_per_ml.value / OLEYLAMINE.molar_mass_g_per_mol.value * 1e3


@dataclass
class Timing:
    """Seconds each liquid-handling action takes on the simulated robot (assumed)."""

    dispense_s: float = 15.0
    sample_s: float = 20.0  # aspirate, push through the cell, read
    return_s: float = 10.0
    flush_s: float = 0.0


@dataclass
class WorldSpec:
    """What the world is built from: the run's recipe and seed, the lab's vessels and timing."""

    recipe: Recipe
    seed: int
    vessels: dict[str, VesselState]
    timing: Timing = field(default_factory=Timing)
    params: TwinParams = field(default_factory=TwinParams)
    instrument: Instrument = field(default_factory=Instrument)


class World:
    """The simulated physical state, mutated only through logged actions."""

    def __init__(self, spec: WorldSpec, log_path: Path | None = None) -> None:
        self.spec = spec
        self.recipe = spec.recipe
        self.t = 0.0
        self.tracker = VesselTracker(spec.vessels,
                                     VIAL_TYPES[spec.recipe.vessel].inner_diameter_mm)
        self.vial: VialTwin | None = None
        self.t_mix = 0.0
        self.cell = FlowCell(spec.params.carry_over, lodges=spec.params.air_lodges)
        self.cell_contents: CellContents | None = None
        self.cell_phase: str | None = None
        self.loads = 0
        self.reads_of_load = 0
        self.rpm = 0.0
        self.done_ops: set[str] = set()
        #: told the flow cell's contents after every change (the emulated lab's spectrometer)
        self.cell_watchers: list[Callable[[CellContents], None]] = []
        #: µL of neat OLA in each single-phase vessel (the reaction vial's is the twin's)
        self.ola_ul = {"ola_stock": self.vessels["ola_stock"].volume_ul} \
            if "ola_stock" in self.vessels else {}
        self.model = SpectralModel.for_recipe(spec.recipe, spec.params)
        self.wl = wavelengths(hdx_wavelength_coefficients())
        self._log = EventLog(log_path, self._apply)

    @property
    def vessels(self) -> dict[str, VesselState]:
        return self.tracker.vessels

    @property
    def layers(self) -> dict[str, float]:
        """µL of each phase in the reaction vial."""
        return self.tracker.layers

    # --- the log -----------------------------------------------------------------------------

    def _apply(self, event: dict[str, Any]) -> None:
        getattr(self, "_apply_" + event.pop("op"))(**event)

    def _record(self, op: str, **event: Any) -> None:
        self._log.write({"op": op, **event})
        if op in ("sample", "return", "flush"):
            self._cell_changed()

    def close(self) -> None:
        self._log.close()

    # --- actions (checked by the tracker, applied in _apply_*) ------------------------------

    def advance(self, t: float) -> None:
        if t > self.t:
            self._record("advance", t=t)

    def stir(self, rpm: float) -> None:
        self._record("stir", rpm=rpm, t=self.t)

    def dispense(self, op_id: str, source: str, dest: str, volume_ul: float, layer: str) -> None:
        self.tracker.check_dispense(source, dest, volume_ul)
        self._record("dispense", id=op_id, source=source, dest=dest, volume=volume_ul,
                     layer=layer, t=self.t + self.spec.timing.dispense_s)

    def sample(self, op_id: str, vessel: str, phase: str, volume_ul: float,
               depth_mm: float = 0.0) -> float:
        """Draw into the flow cell (``depth_mm`` further from the interface than usual);
        returns the sampling height (mm)."""
        height = self.tracker.check_sample(vessel, phase, volume_ul, depth_mm)
        extra = {"depth": depth_mm} if depth_mm else {}  # older logs have no depth: 0
        self._record("sample", id=op_id, phase=phase, volume=volume_ul, vessel=vessel,
                     t=self.t + self.spec.timing.sample_s, **extra)
        return height

    def _stock_contents(self, vessel: str, volume_ul: float) -> CellContents:
        """What a draw from a single-phase stock or blank vial puts in the cell."""
        r = self.recipe
        if vessel == "salt_stock":
            return CellContents("polar", volume_ul, 0.0, 0.0, 0.0, 0.0, 0.0,
                                salt_molar=float(r.salt.concentration.m_as("M")))
        held = self.vessels[vessel].volume_ul
        ola_fraction = self.ola_ul.get(vessel, 0.0) / held if held > 0 else 0.0
        clusters = (float(r.cluster_moles().m_as("nmol")) / float(r.cluster.volume.m_as("mL"))
                    if vessel == "cluster_stock" else 0.0)  # nmol/mL = µM
        return CellContents("nonpolar", volume_ul, clusters, 0.0, 0.0, 0.0, 0.0,
                            ola_molar=ola_fraction * OLA_NEAT_MOLAR)

    def return_sample(self, op_id: str, vessel: str, phase: str, volume_ul: float) -> None:
        """The cell's sample back into the reaction vial (the only vessel samples return to)."""
        self.tracker.check_return(vessel, phase, volume_ul)
        self._record("return", id=op_id, phase=phase, volume=volume_ul,
                     t=self.t + self.spec.timing.return_s)

    def flush(self, op_id: str) -> None:
        self._record("flush", id=op_id, t=self.t + self.spec.timing.flush_s)

    # --- effects (also what replay calls) -------------------------------------------------------

    def _twin_t(self, t: float) -> float:
        return t - self.t_mix

    def _apply_advance(self, t: float) -> None:
        self.t = t
        if self.vial is not None:
            self.vial.advance(self._twin_t(t))

    def _apply_stir(self, rpm: float, t: float) -> None:
        self.rpm = rpm
        if self.vial is not None:
            self.vial.set_stir(rpm, self._twin_t(t))

    def _apply_dispense(self, id: str, source: str, dest: str, volume: float, layer: str,
                        t: float) -> None:
        self._apply_advance(t)
        self._move_ola(source, dest, volume)
        self.tracker.dispense(source, dest, volume, layer)
        self.done_ops.add(id)
        if dest != REACTION:
            return
        if self.vial is None:
            if self.tracker.mixed:
                self.t_mix = t
                self.vial = VialTwin(self.recipe, self.spec.params, self.spec.seed)
                if self.rpm > 0:
                    self.vial.set_stir(self.rpm, 0.0)
            return
        tt = self._twin_t(t)
        if source == "salt_stock":
            self.vial.add_salt_solution(volume, float(self.recipe.salt.concentration.m_as("M")),
                                        tt)
        elif source == "ola_stock":
            nmol = (volume * 1e-3 * OLEYLAMINE.density_g_per_ml.value
                    / OLEYLAMINE.molar_mass_g_per_mol.value * 1e9)
            self.vial.add_ola(nmol, tt)
        else:
            self.vial.add_alkane(volume, tt)

    def _move_ola(self, source: str, dest: str, volume: float) -> None:
        """OLA follows the liquid between single-phase vessels (the blank is mixed from it)."""
        held = self.vessels[source].volume_ul
        moved = self.ola_ul.get(source, 0.0) * (volume / held if held > 0 else 0.0)
        if moved:
            self.ola_ul[source] -= moved
            self.ola_ul[dest] = self.ola_ul.get(dest, 0.0) + moved

    def _apply_sample(self, id: str, phase: str, volume: float, t: float,
                      vessel: str = "reaction", depth: float = 0.0) -> None:
        if vessel == REACTION:
            assert self.vial is not None
            drawn = self.vial.draw(phase, volume, self._twin_t(self.t), depth)
        else:
            drawn = self._stock_contents(vessel, volume)
            self._move_ola(vessel, "flow_cell", volume)
        self.tracker.sample(vessel, phase, volume)
        # liquid from a stock pushed through the cell is a rinse: it carries a lodged bubble out
        self.cell_contents = self.cell.load(drawn, rinse=vessel != REACTION)
        self.cell_phase = phase
        self.loads += 1
        self.reads_of_load = 0
        self.done_ops.add(id)
        self._apply_advance(t)

    def _apply_return(self, id: str, phase: str, volume: float, t: float) -> None:
        assert self.vial is not None and self.cell_contents is not None
        self.vial.return_sample(phase, self.cell_contents, volume, self._twin_t(self.t))
        self.tracker.return_sample(REACTION, phase, volume)
        self.cell_contents = None
        self.done_ops.add(id)
        self._apply_advance(t)

    def _apply_flush(self, id: str, t: float) -> None:
        self.tracker.flush()
        self.cell_contents = None
        self.done_ops.add(id)
        self._apply_advance(t)

    def _cell_changed(self) -> None:
        """Tell the watchers, once the change is logged: the liquid moved whatever they say."""
        for watch in self.cell_watchers:
            watch(self.contents())

    # --- reading -----------------------------------------------------------------------------

    def contents(self) -> CellContents:
        """What the flow cell holds now (air when empty)."""
        return self.cell_contents or CellContents("air", 0.0, 0, 0, 0, 0, 0.0, fault="air")

    def _lamp(self) -> float:
        """Lamp output now relative to the start (slow drift; reads see it, references too)."""
        return 1.0 + self.spec.params.lamp_drift_per_hour * self.t / 3600.0

    def _spectrum(self, counts: FloatArray, kind: str, integration_ms: float,
                  **meta: Any) -> Spectrum:
        inst = self.spec.instrument
        return Spectrum(self.wl.copy(), counts, integration_ms, inst.scans_averaged,
                        inst.full_scale, {"phase": self.cell_phase, "time_s": self.t,
                                          "kind": kind, **meta})

    def reference(self, blank: str, integration_ms: float | None = None
                  ) -> tuple[Spectrum, Spectrum]:
        """Dark (light path closed) and reference of what is in the cell, at the integration
        time that puts the brightest pixel at 80 % of full scale (as OceanView's auto-range),
        but no longer than the instrument's ``integration_ms``: the longest scan the lab allows
        (a short one is how a noisy, fast instrument is simulated). ``integration_ms``, when
        given, is used instead (a longer one the plan asks for to read a dim cell)."""
        inst = self.spec.instrument
        rng = np.random.default_rng([self.spec.seed, 2, self.loads, self.reads_of_load])
        self.reads_of_load += 1
        absorbance = self.model.cell(self.wl, self.contents())
        t = (min(auto_integration_ms(self.wl, absorbance, inst), inst.integration_ms)
             if integration_ms is None else integration_ms)
        dark = read_counts(np.zeros_like(self.wl), inst, rng, integration_ms=t)
        light = light_counts(self.wl, absorbance, inst, integration_ms=t,
                             lamp_drift=self._lamp())
        ref = read_counts(light, inst, rng, integration_ms=t)
        return (self._spectrum(dark, "dark", t, blank=blank),
                self._spectrum(ref, "reference", t, blank=blank))

    def measure(self, integration_ms: float) -> Spectrum:
        """A sample read of the cell (no state changes but the read count). Lamp flares are
        per read: the lamp flickers between this read and the reference."""
        p, inst = self.spec.params, self.spec.instrument
        rng = np.random.default_rng([self.spec.seed, 1, self.loads, self.reads_of_load])
        self.reads_of_load += 1
        drift = self._lamp()
        if rng.random() < p.lamp_flare_probability:
            drift *= p.lamp_flare_factor
        light = light_counts(self.wl, self.model.cell(self.wl, self.contents()), inst,
                             integration_ms=integration_ms, lamp_drift=drift)
        return self._spectrum(read_counts(light, inst, rng, integration_ms=integration_ms),
                              "sample", integration_ms)

    def truth(self) -> dict[str, Any]:
        """What is really there (reports of dry runs and tests; decisions never see it)."""
        out: dict[str, Any] = {"t": self.t, "vessels": {k: v.volume_ul
                                                         for k, v in self.vessels.items()}}
        if self.vial is not None:
            tr = self.vial.truth()
            out.update(transfer=tr.transfer, degraded_fraction=tr.degraded_fraction,
                       v_h=tr.v_h, v_d=tr.v_d)
        return out
