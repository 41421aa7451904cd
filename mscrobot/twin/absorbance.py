"""Absorbance of what sits in the flow cell, before the instrument sees it.

Cluster bands sit at phase-dependent positions (CdS34: 365/335 nm in hexane, 356/327.4 nm in
DMF) from the knowledge base, moved a little by a polar solvent other than DMF; their widths,
intensity ratios and the interband continuum that rises to the blue of them (a square-root edge
in photon energy softened by an Urbach tail) are the material's (``chemistry.optical``, all
assumed). The exchanged clusters' bands are broader and, per cluster, a little weaker. Degraded
clusters add their signature (broadened bands, a red tail, a new band, or nothing at all when
bleached); droplets scatter a + b·(λ/400)^-n; a liquid in the cell leaves a small sloped
baseline against its blank (windows and refractive index); the solvent absorbs below its
cutoff; nitrate absorbs near 302 nm; technical OLA tints hexane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mscrobot.chemistry import CLUSTERS, SOLVENTS, find_salt
from mscrobot.chemistry.clusters import shifted_by_energy
from mscrobot.chemistry.optical import SHAPES, polar_epsilon_ratio, solvent_shift_nm
from mscrobot.recipe.models import Recipe
from mscrobot.spectra.types import FloatArray
from mscrobot.twin.optics import band_absorbance, scatter_absorbance
from mscrobot.twin.params import TwinParams
from mscrobot.twin.vial import CellContents

#: Flat absorbance change when the cell holds air instead of liquid (reflection loss; assumed).
AIR_OFFSET = 0.08
#: Solvent absorbance at its cutoff and how fast it falls above it (assumed edge shape).
SOLVENT_EDGE_AU, SOLVENT_EDGE_NM = 2.0, 6.0
#: Technical OLA tint in hexane, AU per cm per M at 300 nm, decaying over 25 nm (assumed).
OLA_TINT_PER_M_CM, OLA_TINT_DECAY_NM = 0.8, 25.0
#: A degraded cluster's new band sits this far to the red of the first band (assumed).
NEW_BAND_SHIFT_NM = 30.0
#: Sloped baseline of a liquid-filled cell against its blank: AU at 400 nm and AU per 100 nm
#: (falling to the red), per phase (assumed: refractive-index and window effects of a few mAU).
BASELINE_AU = {"nonpolar": 0.002, "polar": 0.003}
BASELINE_SLOPE_PER_100NM = {"nonpolar": 0.0008, "polar": 0.0015}
_HC_EV_NM = 1239.84198


def continuum_absorbance(wl: FloatArray, onset_nm: float, au_at_half_ev: float,
                         urbach_ev: float) -> FloatArray:
    """Interband continuum: a square-root edge in photon energy from ``onset_nm`` with an
    Urbach tail of ``urbach_ev``, ``au_at_half_ev`` at 0.5 eV above the onset."""
    e = _HC_EV_NM / np.asarray(wl, float)
    x = (e - _HC_EV_NM / onset_nm) / urbach_ev
    soft = urbach_ev * np.logaddexp(0.0, x)
    ref = urbach_ev * np.logaddexp(0.0, 0.5 / urbach_ev)
    return np.asarray(au_at_half_ev * np.sqrt(soft / ref), float)


@dataclass(frozen=True)
class SpectralModel:
    """Everything needed to turn cell contents into an absorbance spectrum."""

    nonpolar_bands: tuple[float, ...]
    polar_bands: tuple[float, ...]
    relative_heights: tuple[float, ...]
    au_per_um: float  # first band, alkane phase, in this cell
    polar_epsilon_ratio: float
    nonpolar_fwhm_nm: tuple[float, ...]
    polar_fwhm_nm: tuple[float, ...]
    nonpolar_continuum_nm: float  # onset of the interband continuum in each phase
    polar_continuum_nm: float
    continuum_ratio: float  # continuum 0.5 eV above its onset / first band height
    urbach_ev: float
    nonpolar_cutoff_nm: float
    polar_cutoff_nm: float
    salt_peak_nm: float | None
    salt_au_per_m: float
    salt_half_width_nm: float
    path_cm: float
    degradation: str | None
    droplet_n: float
    scatter_per_fraction: float

    @classmethod
    def for_recipe(cls, recipe: Recipe, params: TwinParams) -> SpectralModel:
        cluster = CLUSTERS[f"{recipe.cluster.material}{recipe.cluster.size}"]
        shape = SHAPES[cluster.key]
        salt, _ = find_salt(recipe.salt.compound)
        polar_solvent = SOLVENTS[recipe.salt.solvent].name
        nonpolar = tuple(f.value for f in cluster.bands_nonpolar)
        polar = tuple(round(solvent_shift_nm(f.value, polar_solvent), 2)
                      for f in cluster.bands_polar)
        widths = tuple(f.value for f in shape.fwhm_nm)
        onset = shape.continuum_onset_nm.value
        polar_cut = SOLVENTS[recipe.salt.solvent].uv_cutoff_nm.value
        absorption = salt.absorption
        return cls(
            nonpolar_bands=nonpolar,
            polar_bands=polar,
            relative_heights=tuple(f.value for f in shape.relative_heights),
            au_per_um=cluster.epsilon_first_band.value * 1e-6 * params.path_cm,
            polar_epsilon_ratio=polar_epsilon_ratio(polar_solvent),
            nonpolar_fwhm_nm=widths,
            polar_fwhm_nm=tuple(w * shape.polar_broadening.value for w in widths),
            nonpolar_continuum_nm=onset,
            polar_continuum_nm=shifted_by_energy(nonpolar[0], polar[0], onset),
            continuum_ratio=shape.continuum_at_half_ev.value,
            urbach_ev=shape.urbach_ev.value,
            nonpolar_cutoff_nm=SOLVENTS[recipe.cluster.solvent].uv_cutoff_nm.value or 200.0,
            polar_cutoff_nm=polar_cut if polar_cut is not None else 270.0,
            salt_peak_nm=absorption.peak_nm if absorption else None,
            salt_au_per_m=(absorption.absorbance_per_cm_at_0_1_m / 0.1 * params.path_cm
                           if absorption else 0.0),
            salt_half_width_nm=absorption.half_width_nm if absorption else 1.0,
            path_cm=params.path_cm,
            degradation=params.degradation,
            droplet_n=params.droplet_scatter_n,
            scatter_per_fraction=params.scatter_per_fraction,
        )

    # --- pieces -------------------------------------------------------------------------------

    def _set(self, phase: str) -> tuple[tuple[float, ...], tuple[float, ...], float]:
        """(band positions, FWHMs, continuum onset) of the clusters showing ``phase``'s bands."""
        if phase == "nonpolar":
            return self.nonpolar_bands, self.nonpolar_fwhm_nm, self.nonpolar_continuum_nm
        return self.polar_bands, self.polar_fwhm_nm, self.polar_continuum_nm

    def _bands(self, wl: FloatArray, phase: str, au: float, fwhm_factor: float = 1.0,
               continuum: bool = True) -> FloatArray:
        """Intact (or, ``fwhm_factor`` > 1, broadened) clusters: their bands and continuum."""
        positions, widths, onset = self._set(phase)
        heights = [au * r / fwhm_factor for r in self.relative_heights]
        fwhm = [w * fwhm_factor for w in widths]
        out = band_absorbance(wl, positions, heights, fwhm)
        if continuum and au > 0:
            out = out + continuum_absorbance(wl, onset, au * self.continuum_ratio,
                                             self.urbach_ev * fwhm_factor)
        return out

    def _degraded(self, wl: FloatArray, phase: str, au: float) -> FloatArray:
        mode = self.degradation
        if mode is None or au <= 0 or mode == "loss":
            return np.zeros_like(wl)
        positions, widths, onset = self._set(phase)
        if mode == "broadening":
            return self._bands(wl, phase, au, fwhm_factor=3.0)
        # the damaged clusters' interband continuum survives (it is the bulk-like absorption)
        edge = continuum_absorbance(wl, onset, au * self.continuum_ratio, self.urbach_ev)
        if mode == "new_band":
            return edge + band_absorbance(wl, (positions[0] + NEW_BAND_SHIFT_NM,), (au,),
                                          widths[0] * 1.3)
        # red_tail: half the band survives, the rest smears into an Urbach-like tail
        tail = np.where(wl > positions[0], 0.6 * au * np.exp(-(wl - positions[0]) / 45.0), 0.0)
        return self._bands(wl, phase, au * 0.5) + tail + 0.5 * edge

    def baseline(self, wl: FloatArray, phase: str) -> FloatArray:
        """The small sloped baseline a liquid-filled cell shows against its blank."""
        return np.asarray(BASELINE_AU[phase] + BASELINE_SLOPE_PER_100NM[phase]
                          * (400.0 - np.asarray(wl, float)) / 100.0, float)

    def solvent(self, wl: FloatArray, phase: str) -> FloatArray:
        cutoff = self.nonpolar_cutoff_nm if phase == "nonpolar" else self.polar_cutoff_nm
        return np.minimum(SOLVENT_EDGE_AU * np.exp(-(wl - cutoff) / SOLVENT_EDGE_NM), 6.0)

    def salt(self, wl: FloatArray, molar: float) -> FloatArray:
        if self.salt_peak_nm is None or molar <= 0:
            return np.zeros_like(wl)
        return band_absorbance(wl, (self.salt_peak_nm,), (self.salt_au_per_m * molar,),
                               2.3548 * self.salt_half_width_nm)

    def ola(self, wl: FloatArray, molar: float) -> FloatArray:
        if molar <= 0:
            return np.zeros_like(wl)
        return (OLA_TINT_PER_M_CM * self.path_cm * molar
                * np.exp(-np.maximum(wl - 300.0, 0.0) / OLA_TINT_DECAY_NM))

    # --- whole cells -------------------------------------------------------------------------

    def cell(self, wl: FloatArray, c: CellContents) -> FloatArray:
        """Total absorbance of the cell holding ``c`` (solvent included)."""
        if c.solvent == "air":
            return np.full_like(wl, AIR_OFFSET)
        a = self.solvent(wl, c.solvent) + self.baseline(wl, c.solvent)
        a = a + self._bands(wl, "nonpolar", self.au_per_um * c.c_nonpolar)
        polar_au = self.au_per_um * self.polar_epsilon_ratio
        a = a + self._bands(wl, "polar", polar_au * c.c_polar)
        a = a + self._degraded(wl, "nonpolar", self.au_per_um * c.c_degraded_nonpolar)
        a = a + self._degraded(wl, "polar", polar_au * c.c_degraded_polar)
        if c.droplet_fraction > 0:
            amp = self.scatter_per_fraction * c.droplet_fraction
            n = 4.0 if c.interface else self.droplet_n
            a = a + scatter_absorbance(wl, 0.3 * amp, 0.7 * amp, n)
        return a + self.salt(wl, c.salt_molar) + self.ola(wl, c.ola_molar)

    def blank(self, wl: FloatArray, phase: str, *, salt_molar: float = 0.0,
              ola_molar: float = 0.0) -> FloatArray:
        """Absorbance of a blank: the phase's solvent with the salt or OLA it carries."""
        return self.solvent(wl, phase) + self.salt(wl, salt_molar) + self.ola(wl, ola_molar)

