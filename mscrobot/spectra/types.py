"""Spectra as the instrument gives them and as the analysis reports them (pure data).

These types are the contract between the twin (which makes ``Spectrum``s), the analysis (which
turns them into ``SampleAnalysis``) and the decision logic (which reads only ``SampleAnalysis``
and tracked volumes). Wavelengths are in nm, absorbance in AU (base-10), counts as read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: 16-bit detectors (Ocean HDX and most USB models) saturate here.
FULL_SCALE_COUNTS = 65535.0
#: A pixel at or above this fraction of full scale is saturated (clipped by the ADC). The one
#: saturation rule: the driver's re-reads and auto-range, and the analysis' flags, all use it.
SATURATION_FRACTION = 0.999


def saturated(counts: FloatArray | float, full_scale: float) -> bool:
    """Whether any pixel of ``counts`` (or a peak count) is clipped by the ADC."""
    return bool(np.any(np.asarray(counts) >= SATURATION_FRACTION * full_scale))


@dataclass(frozen=True, eq=False)
class Spectrum:
    """One read of the detector: counts per pixel at known wavelengths.

    ``meta`` carries what the reader knows about it: ``kind`` ('sample', 'dark', 'reference',
    'blank'), ``phase`` ('nonpolar'/'polar'), ``time_s`` on the run's clock, etc.
    """

    wavelengths_nm: FloatArray
    counts: FloatArray
    integration_ms: float
    scans_averaged: int = 1
    full_scale: float = FULL_SCALE_COUNTS
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BandEstimate:
    """One absorption band as fitted: where it is, how tall above the baseline, how wide."""

    expected_nm: float
    position_nm: float
    height: float
    fwhm_nm: float
    position_sd_nm: float
    height_sd: float
    found: bool


@dataclass(frozen=True, slots=True)
class ScatterFit:
    """Baseline a + b·(λ/400 nm)^-n fitted where clusters do not absorb; ``at_band`` is its
    value at the first band, ``n`` ~0 for droplet emulsions and ~4 for small aggregates."""

    a: float
    b: float
    n: float
    at_band: float
    rms: float


@dataclass(frozen=True, slots=True)
class SampleAnalysis:
    """What one measured sample says, in numbers the decision logic can reason about.

    ``sets`` maps a band-set name ('nonpolar', 'polar': the cluster's band positions in each
    phase) to the bands fitted at those positions; both sets are fitted in every sample so a
    DMF-position band in a hexane sample is seen. ``flags`` name anything that makes the sample
    untrustworthy: 'nonfinite', 'saturated', 'low_signal', 'no_solvent' (air or rinse in the
    cell: flat offset, no solvent signature), 'integration_mismatch' (dark read at another
    integration time) and 'fit_failed' (band fit did not converge). Mismatched axes or lengths
    raise ``SpectrumError`` instead.
    """

    sets: Mapping[str, tuple[BandEstimate, ...]]
    scatter: ScatterFit
    offset: float
    noise_rms: float
    red_tail: float
    extra_band_nm: float | None
    extra_band_height: float
    flags: frozenset[str]

    def height(self, band_set: str, index: int = 0) -> float:
        return self.sets[band_set][index].height if band_set in self.sets else 0.0
