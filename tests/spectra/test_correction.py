"""Counts → absorbance, and flags for reads that must not be trusted."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mscrobot.spectra import ABSORBANCE_CAP, Spectrum, SpectrumError, to_absorbance
from mscrobot.spectra.types import saturated
from tests.spectra.helpers import WINDOW, WL, cell, read, with_counts

CLEAN = cell([365.0, 335.0], [0.6, 0.35])


def test_clean_read_has_no_flags() -> None:
    s, d, r = read(CLEAN)
    a, flags = to_absorbance(s, d, r, window=WINDOW)
    assert flags == frozenset()
    assert np.all(np.isfinite(a))


def test_saturated_sample_or_reference_is_flagged_only_inside_the_window() -> None:
    s, d, r = read(CLEAN)
    counts = s.counts.copy()
    counts[np.argmin(np.abs(WL - 450.0))] = s.full_scale
    assert "saturated" in to_absorbance(with_counts(s, counts), d, r, window=WINDOW)[1]
    counts = r.counts.copy()
    counts[np.argmin(np.abs(WL - 700.0))] = r.full_scale  # outside 300-600 nm
    assert "saturated" not in to_absorbance(s, d, with_counts(r, counts), window=WINDOW)[1]
    s, d, r = read(CLEAN, integration_ms=100.0)  # far too long
    assert "saturated" in to_absorbance(s, d, r, window=WINDOW)[1]


def test_the_driver_and_the_analysis_share_one_saturation_rule() -> None:
    """A pixel at 99.95 % of full scale is clipped by ``spectra.types.saturated``, the rule the
    Ocean driver's re-reads and auto-range use (they once used 100 %) and the analysis flags."""
    s, d, r = read(CLEAN)
    counts = s.counts.copy()
    clipped = 0.9995 * s.full_scale
    counts[np.argmin(np.abs(WL - 450.0))] = clipped
    assert "saturated" in to_absorbance(with_counts(s, counts), d, r, window=WINDOW)[1]
    assert saturated(clipped, s.full_scale) and saturated(counts, s.full_scale)
    assert not saturated(0.998 * s.full_scale, s.full_scale)


def test_low_reference_light_is_flagged() -> None:
    s, d, r = read(CLEAN, integration_ms=0.5)  # reference peak ~2500 counts above dark
    assert "low_signal" in to_absorbance(s, d, r, window=WINDOW)[1]


def test_opaque_sample_is_flagged_low_signal_and_capped_not_nan() -> None:
    s, d, r = read(cell([365.0], [3.5]))
    a, flags = to_absorbance(s, d, r, window=WINDOW)
    assert "low_signal" in flags
    dark_sample = with_counts(s, d.counts - 50.0)  # below dark: ratio ≤ 0
    a, flags = to_absorbance(dark_sample, d, r, window=WINDOW)
    assert np.all(a[(WL > 300) & (WL < 600)] == ABSORBANCE_CAP)
    assert "low_signal" in flags


def test_nonfinite_counts_are_flagged_and_only_those_pixels_are_nan() -> None:
    s, d, r = read(CLEAN)
    counts = s.counts.copy()
    counts[[10, 500]] = [np.nan, np.inf]
    a, flags = to_absorbance(with_counts(s, counts), d, r, window=WINDOW)
    assert "nonfinite" in flags
    assert np.isnan(a[[10, 500]]).all()
    assert np.isfinite(np.delete(a, [10, 500])).all()


def test_all_zero_counts_are_flagged_not_raised() -> None:
    s, d, r = read(CLEAN)
    zero = np.zeros(WL.size)
    a, flags = to_absorbance(with_counts(s, zero), with_counts(d, zero), with_counts(r, zero),
                             window=WINDOW)
    assert "low_signal" in flags
    assert np.all(np.isfinite(a))


def test_mismatched_lengths_and_axes_raise_spectrum_error() -> None:
    s, d, r = read(CLEAN)
    with pytest.raises(SpectrumError, match=r"shape_mismatch.*2067 counts"):
        to_absorbance(with_counts(s, s.counts[:-1]), d, r)
    shifted = replace(r, wavelengths_nm=r.wavelengths_nm + 0.5)
    with pytest.raises(SpectrumError, match=r"wavelength axes differ by up to 0\.5 nm"):
        to_absorbance(s, d, shifted)
    short = Spectrum(WL[:100], r.counts[:100], r.integration_ms)
    with pytest.raises(SpectrumError, match="100 pixels"):
        to_absorbance(s, d, short)
    with pytest.raises(SpectrumError, match="increase strictly"):
        to_absorbance(replace(s, wavelengths_nm=WL[::-1]), d, r)
    with pytest.raises(SpectrumError, match="must be a Spectrum"):
        to_absorbance(s.counts, d, r)  # type: ignore[arg-type]
    with pytest.raises(SpectrumError, match="not numeric"):
        to_absorbance(with_counts(s, ["a"] * WL.size), d, r)
    with pytest.raises(SpectrumError, match="integration_ms"):
        to_absorbance(replace(s, integration_ms=0.0), d, r)


def test_unequal_integration_times_are_scaled_and_dark_mismatch_flagged() -> None:
    s, d, r = read(CLEAN, seed=4, dark_current_counts_per_ms=0.0)
    light = s.counts - d.counts
    doubled = replace(s, counts=d.counts + 2 * light, integration_ms=2 * s.integration_ms)
    a1, _ = to_absorbance(s, d, r, window=WINDOW)
    a2, flags = to_absorbance(doubled, d, r, window=WINDOW)
    inside = (WL > 300) & (WL < 600)
    assert np.allclose(a1[inside], a2[inside], atol=1e-9)
    assert "integration_mismatch" in flags
