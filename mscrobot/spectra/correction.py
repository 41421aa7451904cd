"""Counts → absorbance: dark and reference correction, and flags for reads not to be trusted.

A = -log10((S - D) / (R - D)), scaled for unequal integration times. Everything the arithmetic
cannot express honestly is flagged instead of hidden: non-finite counts, saturated pixels, too
little reference light, or a sample so dark that noise and stray light set the number.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mscrobot.spectra.inputs import check_spectra, check_window
from mscrobot.spectra.types import FloatArray, Spectrum, saturated

#: |A| is capped here: beyond ~5 AU a 16-bit detector with 0.05 % stray light measures nothing,
#: and a ratio ≤ 0 (sample at or below dark) has no logarithm; capped, not NaN, so fits run.
ABSORBANCE_CAP = 5.0
#: Reference minus dark below this fraction of full scale is too little light to divide by...
LOW_REFERENCE_FRACTION = 0.05
#: ... when more than this fraction of the window's pixels are that dark.
LOW_REFERENCE_PIXEL_FRACTION = 0.02
#: Above this absorbance noise and stray light dominate (10^-2.5 = 0.3 % transmission) ...
MAX_RELIABLE_ABSORBANCE = 2.5
#: ... flagged when at least this many window pixels exceed it (one noisy pixel is not enough).
MAX_RELIABLE_MIN_PIXELS = 3

#: Flag names (strings in ``SampleAnalysis.flags``).
NONFINITE = "nonfinite"
SHAPE_MISMATCH = "shape_mismatch"
SATURATED = "saturated"
LOW_SIGNAL = "low_signal"
NO_SOLVENT = "no_solvent"
INTEGRATION_MISMATCH = "integration_mismatch"
FIT_FAILED = "fit_failed"


def absorbance_from_counts(
    sample: FloatArray, dark: FloatArray, reference: FloatArray, time_ratio: float = 1.0
) -> FloatArray:
    """-log10(time_ratio·(S-D)/(R-D)) clipped to ±ABSORBANCE_CAP; NaN only where inputs are.

    A ratio ≤ 0 or no reference light gives +cap: the cell let through nothing measurable.
    """
    with np.errstate(all="ignore"):
        num = sample - dark
        den = reference - dark
        ratio = time_ratio * num / den
        lit = (num > 0) & (den > 0)
        a = np.where(lit, -np.log10(np.where(lit, ratio, 1.0)), ABSORBANCE_CAP)
        a = np.clip(np.nan_to_num(a, nan=ABSORBANCE_CAP, posinf=ABSORBANCE_CAP,
                                  neginf=-ABSORBANCE_CAP), -ABSORBANCE_CAP, ABSORBANCE_CAP)
    bad = ~(np.isfinite(sample) & np.isfinite(dark) & np.isfinite(reference))
    a[bad] = np.nan
    return np.asarray(a, float)


def read_flags(
    wl: FloatArray,
    sample: FloatArray,
    dark: FloatArray,
    reference: FloatArray,
    absorbance: FloatArray,
    *,
    window: tuple[float, float] | None,
    sample_full_scale: float,
    reference_full_scale: float,
) -> set[str]:
    """Flags judging one corrected read within ``window`` (whole axis if None)."""
    flags: set[str] = set()
    if not (np.all(np.isfinite(sample)) and np.all(np.isfinite(dark))
            and np.all(np.isfinite(reference))):
        flags.add(NONFINITE)
    inside = np.ones(wl.shape, bool) if window is None else (wl >= window[0]) & (wl <= window[1])
    if not np.any(inside):
        return flags
    with np.errstate(all="ignore"):
        if (saturated(sample[inside], sample_full_scale)
                or saturated(reference[inside], reference_full_scale)):
            flags.add(SATURATED)
        light = reference[inside] - dark[inside]
        too_dark = ~(light >= LOW_REFERENCE_FRACTION * reference_full_scale)  # NaN counts dark
        opaque = np.count_nonzero(absorbance[inside] > MAX_RELIABLE_ABSORBANCE)
    if np.mean(too_dark) > LOW_REFERENCE_PIXEL_FRACTION or opaque >= MAX_RELIABLE_MIN_PIXELS:
        flags.add(LOW_SIGNAL)
    return flags


def to_absorbance(
    sample: Spectrum,
    dark: Spectrum,
    reference: Spectrum,
    *,
    window: Any = None,
) -> tuple[FloatArray, frozenset[str]]:
    """Absorbance (base 10) of a sample against its reference, and flags on the read.

    Flags: 'nonfinite' (NaN/inf in any counts; those pixels are NaN), 'saturated' (a sample or
    reference pixel in ``window`` at ≥ 99.9 % of full scale), 'low_signal' (reference - dark
    < 5 % of full scale on > 2 % of the window, or ≥ 3 pixels above 2.5 AU), and
    'integration_mismatch' (the dark was taken at another integration time, so its dark current
    does not match). Unequal sample/reference integration times are scaled out. Mismatched
    axes or lengths raise SpectrumError.
    """
    wl, counts = check_spectra(sample=sample, dark=dark, reference=reference)
    win = None if window is None else check_window(window, "window")
    s, d, r = counts["sample"], counts["dark"], counts["reference"]
    time_ratio = float(reference.integration_ms) / float(sample.integration_ms)
    a = absorbance_from_counts(s, d, r, time_ratio)
    flags = read_flags(wl, s, d, r, a, window=win, sample_full_scale=float(sample.full_scale),
                       reference_full_scale=float(reference.full_scale))
    t_dark = float(dark.integration_ms)
    if not (np.isclose(t_dark, float(sample.integration_ms))
            and np.isclose(t_dark, float(reference.integration_ms))):
        flags.add(INTEGRATION_MISMATCH)
    return a, frozenset(flags)
