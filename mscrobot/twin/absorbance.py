"""Absorbance of what sits in the flow cell, before the instrument sees it.

Cluster bands sit at phase-dependent positions (CdS34: 365/335 nm in hexane, 356/327.4 nm in
DMF) from the knowledge base; degraded clusters add their signature (broadened bands, a red
tail, a new band, or nothing at all when bleached); droplets scatter a + b·(λ/400)^-n; the
solvent absorbs below its cutoff; nitrate absorbs near 302 nm; technical OLA tints hexane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mscrobot.chemistry import CLUSTERS, SOLVENTS, find_salt
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


@dataclass(frozen=True)
class SpectralModel:
    """Everything needed to turn cell contents into an absorbance spectrum."""

    nonpolar_bands: tuple[float, ...]
    polar_bands: tuple[float, ...]
    relative_heights: tuple[float, ...]
    au_per_um: float  # first band, alkane phase, in this cell
    polar_epsilon_ratio: float
    fwhm_nm: float
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
        salt, _ = find_salt(recipe.salt.compound)
        n = len(cluster.bands_nonpolar)
        rel = (1.0, params.second_band_ratio, 0.3, 0.2)[:n]
        polar_cut = SOLVENTS[recipe.salt.solvent].uv_cutoff_nm.value
        absorption = salt.absorption
        return cls(
            nonpolar_bands=tuple(f.value for f in cluster.bands_nonpolar),
            polar_bands=tuple(f.value for f in cluster.bands_polar),
            relative_heights=rel,
            au_per_um=cluster.epsilon_first_band.value * 1e-6 * params.path_cm,
            polar_epsilon_ratio=params.polar_epsilon_ratio,
            fwhm_nm=params.band_fwhm_nm,
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

    def _bands(self, wl: FloatArray, positions: tuple[float, ...], au: float,
               fwhm_factor: float = 1.0) -> FloatArray:
        heights = [au * r / fwhm_factor for r in self.relative_heights]
        return band_absorbance(wl, positions, heights, self.fwhm_nm * fwhm_factor)

    def _degraded(self, wl: FloatArray, positions: tuple[float, ...], au: float) -> FloatArray:
        mode = self.degradation
        if mode is None or au <= 0 or mode == "loss":
            return np.zeros_like(wl)
        if mode == "broadening":
            return self._bands(wl, positions, au, fwhm_factor=3.0)
        if mode == "new_band":
            return band_absorbance(wl, (positions[0] + NEW_BAND_SHIFT_NM,), (au,),
                                   self.fwhm_nm * 1.3)
        # red_tail: half the band survives, the rest smears into an Urbach-like tail
        tail = np.where(wl > positions[0], 0.6 * au * np.exp(-(wl - positions[0]) / 45.0), 0.0)
        return self._bands(wl, positions, au * 0.5) + tail

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
        a = self.solvent(wl, c.solvent)
        a = a + self._bands(wl, self.nonpolar_bands, self.au_per_um * c.c_nonpolar)
        polar_au = self.au_per_um * self.polar_epsilon_ratio
        a = a + self._bands(wl, self.polar_bands, polar_au * c.c_polar)
        a = a + self._degraded(wl, self.nonpolar_bands, self.au_per_um * c.c_degraded_nonpolar)
        a = a + self._degraded(wl, self.polar_bands, polar_au * c.c_degraded_polar)
        if c.droplet_fraction > 0:
            amp = self.scatter_per_fraction * c.droplet_fraction
            n = 4.0 if c.interface else self.droplet_n
            a = a + scatter_absorbance(wl, 0.3 * amp, 0.7 * amp, n)
        return a + self.salt(wl, c.salt_molar) + self.ola(wl, c.ola_molar)

    def blank(self, wl: FloatArray, phase: str, *, salt_molar: float = 0.0,
              ola_molar: float = 0.0) -> FloatArray:
        """Absorbance of a blank: the phase's solvent with the salt or OLA it carries."""
        return self.solvent(wl, phase) + self.salt(wl, salt_molar) + self.ola(wl, ola_molar)

