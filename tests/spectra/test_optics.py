"""The twin's spectrometer: counts that look like an Ocean HDX's, from cell absorbance."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mscrobot.spectra import FULL_SCALE_COUNTS, to_absorbance
from mscrobot.twin import optics
from tests.spectra.helpers import WL, blank, cell, instrument, read


def test_wavelength_axis_covers_the_hdx_range_monotonically() -> None:
    wl = optics.wavelengths(optics.hdx_wavelength_coefficients())
    assert wl.size == optics.HDX_PIXELS == 2068
    assert 198.0 < wl[0] < 202.0
    assert 795.0 < wl[-1] < 805.0
    assert np.all(np.diff(wl) > 0.25)
    assert np.all(np.diff(wl) < 0.35)


def test_lamp_is_weak_below_230_nm_and_peaks_at_the_set_counts() -> None:
    inst = optics.Instrument()
    lamp = inst.lamp(WL)
    assert lamp.max() == pytest.approx(inst.lamp_peak_counts_per_ms, rel=0.01)
    assert lamp[WL < 210].max() < 0.1 * lamp.max()
    assert np.all(np.diff(lamp[WL < 230]) > 0)  # rising out of the deep UV
    assert lamp[(WL > 250) & (WL < 750)].min() > 0.15 * lamp.max()  # usable everywhere


def test_auto_integration_puts_the_reference_peak_near_80_percent() -> None:
    ref = blank("dmf")
    inst = instrument(ref, read_noise_counts=0.0, gain_electrons_per_count=1e9)
    _, _, reference = optics.measure(WL, ref, ref, inst, np.random.default_rng(0))
    assert reference.counts.max() == pytest.approx(0.8 * FULL_SCALE_COUNTS, rel=0.01)


def test_counts_are_dark_plus_light_clipped_to_16_bit() -> None:
    a = cell([365.0], [0.5])
    sample, dark, reference = read(a, integration_ms=200.0)  # far too long: saturates
    assert reference.counts.max() == FULL_SCALE_COUNTS
    assert sample.counts.min() >= 0.0
    assert sample.counts.max() <= FULL_SCALE_COUNTS
    assert 1400 < np.median(dark.counts) < 1600
    assert sample.meta["kind"] == "sample"
    assert reference.meta["kind"] == "reference"


def test_absorbance_round_trip_and_noise_level() -> None:
    a = cell([365.0, 335.0], [0.6, 0.35])
    s, d, r = read(a, seed=3)
    measured, flags = to_absorbance(s, d, r, window=(300, 600))
    inside = (WL > 300) & (WL < 600)
    err = measured[inside] - a[inside]
    assert flags == frozenset()
    assert abs(np.mean(err)) < 2e-3
    assert 3e-4 < np.std(err) < 5e-3  # mAU-level noise, as from a real HDX


def test_stray_light_flattens_high_absorbance() -> None:
    a = cell([365.0], [4.0])
    s, d, r = read(a, seed=1, scans_averaged=100)
    measured, _ = to_absorbance(s, d, r)
    peak = measured[np.argmin(np.abs(WL - 365.0))]
    assert 2.5 < peak < 3.8  # 0.05 % stray light caps what 4 AU looks like


def test_lamp_drift_appears_as_a_flat_offset() -> None:
    a = cell()
    s, d, r = read(a, seed=2, lamp_drift=0.95, scans_averaged=50)
    measured, _ = to_absorbance(s, d, r)
    inside = (WL > 300) & (WL < 600)
    assert np.mean(measured[inside]) == pytest.approx(-np.log10(0.95), abs=2e-3)


def test_same_seed_same_counts_and_fixed_dark_pattern() -> None:
    a = cell([365.0], [0.5])
    first, dark1, _ = read(a, seed=7)
    again, _dark2, _ = read(a, seed=7)
    other, dark3, _ = read(a, seed=8)
    assert np.array_equal(first.counts, again.counts)
    assert not np.array_equal(first.counts, other.counts)
    pattern = optics.Instrument().dark_pattern(WL.size)
    # the per-pixel pattern is the detector's, not the read's: it survives averaging reads
    assert np.corrcoef(dark1.counts - dark3.counts, pattern)[0, 1] < 0.2
    assert np.corrcoef((dark1.counts + dark3.counts) / 2, pattern)[0, 1] > 0.5


def test_shapes_for_many_spectra_at_once() -> None:
    heights = np.array([[0.1, 0.05], [0.5, 0.2], [0.0, 0.0]])
    bands = optics.band_absorbance(WL, [365.0, 335.0], heights, 12.0)
    scatter = optics.scatter_absorbance(WL, [0.0, 0.01, 0.0], [0.1, 0.0, 0.0], [4.0, 0.0, 0.4])
    assert bands.shape == scatter.shape == (3, WL.size)
    inst = replace(optics.Instrument(), scans_averaged=1)
    counts = optics.read_counts(optics.light_counts(WL, bands + scatter, inst), inst,
                                np.random.default_rng(0))
    assert counts.shape == (3, WL.size)
    with pytest.raises(ValueError, match="band positions"):
        optics.band_absorbance(WL, [365.0, 335.0], [1.0], 12.0)
