"""Checking what comes in before any arithmetic, so bad input fails loudly and clearly.

A spectrum can arrive from a driver, a file or a test with anything in it. Problems the
analysis can describe (NaN counts, saturation) become flags elsewhere; problems that make the
question meaningless (no wavelength axis, axes that disagree, a window with no pixels) raise
``SpectrumError`` here with a message that says what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mscrobot.spectra.types import FloatArray, Spectrum

#: Wavelength axes closer than this (nm) at every pixel are the same axis.
AXIS_TOLERANCE_NM = 1e-3
#: Fewer pixels than this in a window cannot support a fit.
MIN_WINDOW_PIXELS = 8


class SpectrumError(ValueError):
    """Input that no analysis can be made of (wrong shapes, mismatched axes, bad windows)."""


def as_float_array(values: Any, what: str) -> FloatArray:
    """``values`` as a float64 array, or SpectrumError naming ``what`` if it cannot be one."""
    try:
        with np.errstate(all="ignore"):
            return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SpectrumError(f"{what} is not numeric: {exc}") from exc


def check_axis(wavelengths: Any, what: str = "wavelength axis") -> FloatArray:
    """A usable axis: 1-D, finite, strictly increasing (as every array spectrometer reports)."""
    wl = as_float_array(wavelengths, what)
    if wl.ndim != 1 or wl.size < 2:
        raise SpectrumError(f"{what} must be 1-D with at least 2 pixels, got shape {wl.shape}")
    if not np.all(np.isfinite(wl)):
        raise SpectrumError(f"{what} has non-finite wavelengths")
    if not np.all(np.diff(wl) > 0):
        raise SpectrumError(f"{what} must increase strictly from pixel to pixel")
    return wl


def check_positive(value: Any, what: str) -> float:
    """A finite number > 0 (integration time, full scale), or SpectrumError."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SpectrumError(f"{what} is not a number: {value!r}") from exc
    if not np.isfinite(x) or x <= 0.0:
        raise SpectrumError(f"{what} must be finite and > 0, got {value!r}")
    return x


def check_spectra(**spectra: Spectrum) -> tuple[FloatArray, dict[str, FloatArray]]:
    """The shared axis and each spectrum's counts, after checking they belong together.

    Raises SpectrumError for a non-Spectrum, a bad axis, counts whose length differs from the
    axis, or axes that differ between the spectra ('shape_mismatch').
    """
    axis: FloatArray | None = None
    first = ""
    counts: dict[str, FloatArray] = {}
    for name, spectrum in spectra.items():
        if not isinstance(spectrum, Spectrum):
            raise SpectrumError(f"{name} must be a Spectrum, got {type(spectrum).__name__}")
        wl = check_axis(spectrum.wavelengths_nm, f"{name} wavelength axis")
        c = as_float_array(spectrum.counts, f"{name} counts")
        if c.ndim != 1 or c.shape != wl.shape:
            got = c.size if c.ndim == 1 else f"shape {c.shape} of"
            raise SpectrumError(
                f"shape_mismatch: {name} has {got} counts for {wl.size} wavelengths")
        check_positive(spectrum.integration_ms, f"{name} integration_ms")
        check_positive(spectrum.full_scale, f"{name} full_scale")
        if axis is None:
            axis, first = wl, name
        elif wl.shape != axis.shape:
            raise SpectrumError(
                f"shape_mismatch: {name} has {wl.size} pixels, {first} has {axis.size}")
        elif not np.allclose(wl, axis, rtol=0.0, atol=AXIS_TOLERANCE_NM):
            worst = float(np.max(np.abs(wl - axis)))
            raise SpectrumError(
                f"shape_mismatch: {name} and {first} wavelength axes differ by up to "
                f"{worst:.3g} nm (a different calibration or spectrometer)")
        counts[name] = c
    if axis is None:
        raise SpectrumError("no spectra given")
    return axis, counts


def check_window(window: Any, what: str) -> tuple[float, float]:
    """(lo, hi) in nm with lo < hi, both finite."""
    try:
        lo, hi = (float(v) for v in window)
    except (TypeError, ValueError) as exc:
        raise SpectrumError(f"{what} must be (lo_nm, hi_nm), got {window!r}") from exc
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise SpectrumError(f"{what} must be finite with lo < hi, got {window!r}")
    return lo, hi


def window_slice(wl: FloatArray, window: tuple[float, float], what: str) -> slice:
    """Pixels of an increasing axis inside [lo, hi], as a slice (a view, no copy)."""
    lo, hi = window
    i0 = int(np.searchsorted(wl, lo, side="left"))
    i1 = int(np.searchsorted(wl, hi, side="right"))
    if i1 - i0 < MIN_WINDOW_PIXELS:
        raise SpectrumError(
            f"{what} {lo:g}-{hi:g} nm holds {max(i1 - i0, 0)} pixels of the "
            f"{wl[0]:.1f}-{wl[-1]:.1f} nm axis; need at least {MIN_WINDOW_PIXELS}")
    return slice(i0, i1)


def check_band_sets(
    band_sets: Mapping[str, Sequence[float]], window: tuple[float, float]
) -> dict[str, tuple[float, ...]]:
    """Band positions per set, all finite and inside the analysis window."""
    if not isinstance(band_sets, Mapping):
        raise SpectrumError(f"band_sets must map a set name to positions, got {band_sets!r}")
    out: dict[str, tuple[float, ...]] = {}
    for name, positions in band_sets.items():
        if isinstance(positions, str | bytes):
            raise SpectrumError(f"band set {name!r} must list positions in nm, got {positions!r}")
        try:
            values = tuple(float(p) for p in positions)
        except (TypeError, ValueError) as exc:
            raise SpectrumError(f"band set {name!r} must list positions in nm") from exc
        for p in values:
            if not (np.isfinite(p) and window[0] <= p <= window[1]):
                raise SpectrumError(
                    f"band set {name!r}: {p!r} nm is outside the analysis window "
                    f"{window[0]:g}-{window[1]:g} nm")
        out[str(name)] = values
    return out


def unique_positions(
    band_sets: Mapping[str, tuple[float, ...]], merge_nm: float = 0.5
) -> tuple[FloatArray, dict[str, tuple[int, ...]]]:
    """Distinct band positions over all sets and, per set, which of them each band is.

    Two sets naming the same band (within ``merge_nm``) share one fitted band: fitting two
    identical Gaussians would be degenerate.
    """
    unique: list[float] = []
    index: dict[str, tuple[int, ...]] = {}
    for name, positions in band_sets.items():
        idx = []
        for p in positions:
            hit = next((i for i, u in enumerate(unique) if abs(u - p) <= merge_nm), None)
            if hit is None:
                unique.append(p)
                hit = len(unique) - 1
            idx.append(hit)
        index[name] = tuple(idx)
    return np.asarray(unique, float), index
