"""One vial of the twin: cluster amounts in each phase over time, as the chemistry would move them.

Species (nmol of clusters): ``h`` intact in the alkane (amine- or OLA-capped), ``i`` held at the
interface on the way across, ``d`` intact in the polar phase (salt-capped), ``g_h``/``g_d``
degraded in each phase. Transfer h → i → d runs at a rate set by the salt, the stir rate and the
temperature, towards a plateau set by metal equivalents per cluster (too little salt leaves a
partial, stalled transfer); it continues slowly when stirring stops. OLA reverses it fast.
Volumes change by mutual solubility at first contact, hexane evaporation and sampling.

Time is the caller's clock (seconds); randomness comes from the vial's own seeded generator, so a
vial's story does not depend on what else runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mscrobot.chemistry import CLUSTERS, OLEYLAMINE, find_salt
from mscrobot.chemistry.uptake import bound_loading, carried_fraction
from mscrobot.recipe.models import Recipe
from mscrobot.twin.params import SALT_RATE_PER_S, TwinParams

_GAS_CONSTANT = 8.314e-3  # kJ/(mol K)
_MAX_STEP_S = 2.0


@dataclass
class VialState:
    t: float
    h: float
    i: float
    d: float
    g_h: float
    g_d: float
    v_h: float
    v_d: float
    metal_nmol: float
    ola_nmol: float
    stir_rpm: float = 0.0
    last_stir_rpm: float = 0.0
    stopped_at: float | None = None
    ever_stirred: bool = False


@dataclass(frozen=True)
class CellContents:
    """What a sample put into the flow cell: concentrations (µM) and what else is in there."""

    solvent: str  # "nonpolar" or "polar" or "air"
    volume_ul: float
    c_nonpolar: float  # intact clusters showing the alkane band set
    c_polar: float  # intact clusters showing the polar band set
    c_degraded_nonpolar: float
    c_degraded_polar: float
    droplet_fraction: float  # volume fraction of the other phase as droplets (scatters)
    interface: bool = False
    salt_molar: float = 0.0
    ola_molar: float = 0.0
    fault: str | None = None

    def mixed(self, other: CellContents, fraction_other: float) -> CellContents:
        """This contents with ``fraction_other`` of ``other`` mixed in (carry-over, drag)."""
        a, b = 1.0 - fraction_other, fraction_other
        return CellContents(
            self.solvent, self.volume_ul,
            a * self.c_nonpolar + b * other.c_nonpolar,
            a * self.c_polar + b * other.c_polar,
            a * self.c_degraded_nonpolar + b * other.c_degraded_nonpolar,
            a * self.c_degraded_polar + b * other.c_degraded_polar,
            # the other liquid is immiscible: all of it sits in the cell as droplets
            a * self.droplet_fraction + (b if other.solvent != self.solvent
                                         else b * other.droplet_fraction),
            self.interface or other.interface,
            a * self.salt_molar + b * other.salt_molar,
            a * self.ola_molar + b * other.ola_molar,
            self.fault or other.fault,
        )


@dataclass
class Truth:
    """What really is in the vial (for tests and benchmarks; the decision logic never sees it)."""

    transfer: float  # d / (d + h) of intact clusters
    degraded_fraction: float
    interface_fraction: float
    v_h: float
    v_d: float


class VialTwin:
    """A simulated vial driven by the same actions a lab performs on a real one."""

    def __init__(self, recipe: Recipe, params: TwinParams | None = None, seed: int = 0,
                 t0: float = 0.0) -> None:
        self.recipe = recipe
        self.params = params or TwinParams()
        self.rng = np.random.default_rng(seed)
        self.cluster = CLUSTERS[f"{recipe.cluster.material}{recipe.cluster.size}"]
        self.salt, _ = find_salt(recipe.salt.compound)
        n_clusters = float(recipe.cluster_moles().m_as("nmol"))
        v_h = float(recipe.cluster.volume.m_as("uL"))
        v_d = float(recipe.salt.volume.m_as("uL"))
        moved = self.params.hexane_into_dmf_fraction * v_d  # mutual solubility at contact
        self.state = VialState(
            t=t0, h=n_clusters, i=0.0, d=0.0, g_h=0.0, g_d=0.0,
            v_h=v_h - moved, v_d=v_d + moved,
            metal_nmol=float(recipe.metal_moles().m_as("nmol")), ola_nmol=0.0,
        )
        self.n_initial = n_clusters
        self.base_rate = SALT_RATE_PER_S[self.salt.name].value * self.params.rate_scale
        self.loading = bound_loading(self.cluster, self.salt).value
        self.temperature_k = float(recipe.exchange.temperature.m_as("K"))

    # --- actions ---------------------------------------------------------------------------

    def set_stir(self, rpm: float, t: float) -> None:
        self.advance(t)
        s = self.state
        if rpm <= 0 and s.stir_rpm > 0:
            s.stopped_at, s.last_stir_rpm = t, s.stir_rpm
        if rpm > 0:
            s.ever_stirred, s.stopped_at = True, None
        s.stir_rpm = max(0.0, rpm)

    def add_salt_solution(self, volume_ul: float, molar: float, t: float) -> None:
        self.advance(t)
        self.state.v_d += volume_ul
        self.state.metal_nmol += molar * volume_ul * 1e3 * self.salt.metal_per_formula

    def add_ola(self, nmol: float, t: float) -> None:
        self.advance(t)
        self.state.ola_nmol += nmol
        self.state.v_h += nmol * 1e-9 * OLEYLAMINE.molar_mass_g_per_mol.value / (
            OLEYLAMINE.density_g_per_ml.value) * 1e6 * 1e-3

    def add_alkane(self, volume_ul: float, t: float) -> None:
        self.advance(t)
        self.state.v_h += volume_ul

    def return_sample(self, phase: str, contents: CellContents, volume_ul: float,
                      t: float) -> None:
        """Put a measured sample back into its phase (a recipe's ``return_samples``)."""
        self.advance(t)
        s = self.state
        nmol = volume_ul * 1e-3  # nmol per µM of concentration in this volume
        if phase == "nonpolar":
            s.v_h += volume_ul
            s.h += (contents.c_nonpolar + contents.c_polar) * nmol
            s.g_h += (contents.c_degraded_nonpolar + contents.c_degraded_polar) * nmol
        else:
            s.v_d += volume_ul
            s.d += (contents.c_nonpolar + contents.c_polar) * nmol
            s.g_d += (contents.c_degraded_nonpolar + contents.c_degraded_polar) * nmol
            s.metal_nmol += contents.salt_molar * volume_ul * 1e3 * self.salt.metal_per_formula

    # --- time ------------------------------------------------------------------------------

    def advance(self, t: float) -> None:
        """Move the vial's chemistry forward to time ``t`` (never backwards)."""
        s = self.state
        if t < s.t - 1e-9:
            raise ValueError(f"twin time cannot go back from {s.t} s to {t} s")
        while s.t < t - 1e-12:
            dt = min(_MAX_STEP_S, t - s.t)
            self._step(dt)
            s.t += dt
        s.t = max(s.t, t)

    def _transfer_rate(self) -> float:
        s, p = self.state, self.params
        if s.stir_rpm > 0:
            stir = (s.stir_rpm / 1000.0) ** p.stir_exponent
        else:
            stir = p.still_fraction if s.ever_stirred else p.still_fraction / 4
        arrhenius = math.exp(-p.activation_kj_per_mol / _GAS_CONSTANT
                             * (1 / self.temperature_k - 1 / 298.15))
        return self.base_rate * stir * arrhenius

    def plateau(self) -> float:
        """Fraction of intact clusters the salt present can carry across: the dose–response
        the recipe check warns from (``chemistry.uptake``, assumed)."""
        s = self.state
        intact = s.h + s.i + s.d
        if intact <= 0:
            return 1.0
        return carried_fraction(s.metal_nmol / max(intact, 1e-12), self.loading)

    def _step(self, dt: float) -> None:
        s, p = self.state, self.params
        ola_eq = s.ola_nmol / max(s.h + s.i + s.d, 1e-12)
        if ola_eq >= 1.0:
            back = min(1.0, ola_eq / p.ola_per_cluster_needed)
            k = p.back_rate_per_s * (1.0 if s.stir_rpm > 0 else 0.1) * back
            moved_d = s.d * (1 - math.exp(-k * dt))
            moved_i = s.i * (1 - math.exp(-k * dt))
            s.d -= moved_d
            s.i -= moved_i
            s.h += moved_d + moved_i
        else:
            target_h = (1.0 - self.plateau()) * (s.h + s.i + s.d)
            excess = max(0.0, s.h - target_h)
            moved = excess * (1 - math.exp(-self._transfer_rate() * dt))
            release_k = p.interface_release_per_s * (1.0 if s.stir_rpm > 0 else 0.5)
            released = s.i * (1 - math.exp(-release_k * dt))
            s.h -= moved
            s.i += moved - released
            s.d += released
        if p.degradation is not None and s.t + dt > p.degradation_onset_s:
            frac = 1 - math.exp(-p.degradation_rate_per_s * dt)
            lost_h, lost_d = s.h * frac, s.d * frac
            s.h -= lost_h
            s.d -= lost_d
            s.g_h += lost_h
            s.g_d += lost_d
        rate = p.evaporation_ul_per_min * (1.5 if s.stir_rpm > 0 else 1.0)
        s.v_h = max(s.v_h - rate * dt / 60.0, 1.0)

    # --- looking -----------------------------------------------------------------------------

    def droplet_fraction(self, t: float) -> float:
        """Volume fraction of foreign droplets in each phase at ``t`` (emulsion settling)."""
        s, p = self.state, self.params
        if s.stir_rpm > 0:
            return p.emulsion_fraction * 3.0 * (s.stir_rpm / 1000.0)
        if s.stopped_at is None:
            return 0.0
        rel = max(s.last_stir_rpm, 1.0) / 1000.0
        phi0 = p.emulsion_fraction * rel
        tau = p.settle_tau_s * rel**p.settle_exponent
        return phi0 * math.exp(-(t - s.stopped_at) / max(tau, 1e-6))

    def truth(self) -> Truth:
        s = self.state
        intact = s.h + s.d
        total = s.h + s.i + s.d + s.g_h + s.g_d
        return Truth(
            transfer=s.d / intact if intact > 0 else 0.0,
            degraded_fraction=(s.g_h + s.g_d) / total if total > 0 else 0.0,
            interface_fraction=s.i / total if total > 0 else 0.0,
            v_h=s.v_h, v_d=s.v_d,
        )

    def draw(self, phase: str, volume_ul: float, t: float, depth_mm: float = 0.0
             ) -> CellContents:
        """Take a sample of ``phase`` ('nonpolar' or 'polar') into the flow cell, the tip
        ``depth_mm`` further from the interface than the usual height (always a fresh tip).

        Sampling faults happen with the probabilities in the params, drawn from this vial's own
        generator: a tip dragging alkane into a polar sample, a tip at the interface, an air gap.
        The film a fresh tip drags through the alkane strips off as it goes deeper, so drag and
        interface draws fall with ``depth_mm`` (all but ``drag_persistent``).
        """
        self.advance(t)
        s, p = self.state, self.params
        phi = self.droplet_fraction(t)
        here = self._phase_contents(phase)
        other = self._phase_contents("polar" if phase == "nonpolar" else "nonpolar")
        contents = here
        if phi > 0:
            contents = contents.mixed(other, min(phi, 0.5))
        roll = self.rng.random()
        deeper = math.exp(-max(depth_mm, 0.0) / max(p.drag_depth_mm, 1e-9))
        if roll < p.air_probability:
            contents = CellContents("air", volume_ul, 0, 0, 0, 0, 0.0, fault="air")
        elif roll < p.air_probability + p.interface_sample_probability * deeper:
            held = s.i * 0.2 / max(volume_ul, 1e-9) * 1e3  # µM: a slice of the interface film
            mix = here.mixed(other, 0.5)
            contents = CellContents(
                mix.solvent, volume_ul, mix.c_nonpolar + held, mix.c_polar + held,
                mix.c_degraded_nonpolar, mix.c_degraded_polar, max(mix.droplet_fraction, 0.2),
                True, mix.salt_molar, mix.ola_molar, "interface")
        elif phase == "polar" and p.drag_fraction > 0:
            drag = (p.drag_fraction * self.rng.uniform(0.3, 1.7)
                    * (p.drag_persistent + (1.0 - p.drag_persistent) * deeper))
            contents = contents.mixed(other, drag)
            contents = CellContents(**{**contents.__dict__, "fault": "drag"})
        self._remove(phase, volume_ul)
        return contents

    def _phase_contents(self, phase: str) -> CellContents:
        s = self.state
        if phase == "nonpolar":
            v = s.v_h
            return CellContents("nonpolar", 0.0, s.h / v * 1e3, 0.0, s.g_h / v * 1e3, 0.0, 0.0,
                                ola_molar=s.ola_nmol / v * 1e-6 * 1e3)
        v = s.v_d
        salt_molar = s.metal_nmol / self.salt.metal_per_formula / v * 1e-6 * 1e3
        return CellContents("polar", 0.0, 0.0, s.d / v * 1e3, 0.0, s.g_d / v * 1e3, 0.0,
                            salt_molar=salt_molar)

    def _remove(self, phase: str, volume_ul: float) -> None:
        s = self.state
        if phase == "nonpolar":
            f = min(volume_ul / s.v_h, 0.9)
            s.h, s.g_h, s.ola_nmol = s.h * (1 - f), s.g_h * (1 - f), s.ola_nmol * (1 - f)
            s.v_h -= f * s.v_h
        else:
            f = min(volume_ul / s.v_d, 0.9)
            s.d, s.g_d, s.metal_nmol = s.d * (1 - f), s.g_d * (1 - f), s.metal_nmol * (1 - f)
            s.v_d -= f * s.v_d


@dataclass
class FlowCell:
    """A shared flow cell keeps ``carry_over`` of the last liquid it held in the next load, so
    a rinse with the phase's blank leaves only blank to carry over. A bubble that ``lodges``
    stays in the light path through later loads until liquid from a stock is pushed through
    (a rinse)."""

    carry_over: float
    last: CellContents | None = field(default=None)
    lodges: bool = False
    bubble: bool = False

    def load(self, contents: CellContents, rinse: bool = False) -> CellContents:
        if rinse:
            self.bubble = False
        elif contents.fault == "air" and self.lodges:
            self.bubble = True
        loaded = contents
        if self.last is not None and self.carry_over > 0 and contents.solvent != "air":
            loaded = contents.mixed(self.last, self.carry_over)
            loaded = CellContents(**{**loaded.__dict__, "solvent": contents.solvent})
        self.last = contents
        if self.bubble:
            return CellContents("air", contents.volume_ul, 0, 0, 0, 0, 0.0, fault="air")
        return loaded
