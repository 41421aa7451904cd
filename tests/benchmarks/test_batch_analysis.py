"""The benchmark's vectorised analysis agrees with the per-spectrum fit the engine runs and
flags what it cannot trust."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.batch_analysis import FLAG_BITS, analyse_batch
from mscrobot.spectra import SpectrumError, analyse_sample
from mscrobot.twin import optics
from tests.spectra.helpers import (
    CDS_BANDS,
    HEXANE,
    SCATTER_WINDOW,
    WINDOW,
    WL,
    blank,
    instrument,
    read,
)
from tests.spectra.test_robustness import AXIS, N, counts


def twin_counts(m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """m clean single-phase spectra (hexane or DMF bands, light scatter) against a DMF blank."""
    rng = np.random.default_rng(seed)
    ref = blank("dmf")
    inst = instrument(ref)
    first = rng.uniform(0.05 / 0.55, 1.0, m)  # second band ≥ 0.05 AU
    polar = rng.random(m) < 0.5
    heights = np.zeros((m, 4))
    heights[~polar, :2] = np.column_stack([first, 0.55 * first])[~polar]
    heights[polar, 2:] = np.column_stack([first, 0.55 * first])[polar]
    scatter = optics.scatter_absorbance(WL, rng.uniform(0, 0.01, m), rng.uniform(0, 0.02, m),
                                        rng.choice([0.4, 4.0], m))
    a = ref + optics.band_absorbance(WL, CDS_BANDS, heights, 12.0) + scatter
    dark = optics.read_counts(np.zeros_like(WL), inst, rng)
    reference = optics.read_counts(optics.light_counts(WL, ref, inst), inst, rng)
    samples = optics.read_counts(optics.light_counts(WL, a, inst), inst, rng)
    return samples, dark, reference, heights, inst.integration_ms


def test_batch_agrees_with_the_per_spectrum_fit() -> None:
    from mscrobot.spectra import Spectrum

    samples, dark, reference, truth, t = twin_counts(24, seed=5)
    batch = analyse_batch(WL, samples.astype(np.float32), dark, reference, HEXANE,
                          window=WINDOW, scatter_window=SCATTER_WINDOW)
    assert batch.band_names == ("nonpolar[0]", "nonpolar[1]", "polar[0]", "polar[1]")
    assert np.allclose(batch.expected_nm, CDS_BANDS)
    for i in range(samples.shape[0]):
        one = analyse_sample(Spectrum(WL, samples[i], t), Spectrum(WL, dark, t),
                             Spectrum(WL, reference, t), HEXANE, window=WINDOW,
                             scatter_window=SCATTER_WINDOW)
        fitted = [b for name in ("nonpolar", "polar") for b in one.sets[name]]
        for j, band in enumerate(fitted):
            if truth[i, j] >= 0.05:
                assert band.found
                assert batch.found[i, j]
                assert abs(batch.positions[i, j] - band.position_nm) < 0.3
                assert batch.heights[i, j] == pytest.approx(band.height, rel=0.02)
            else:
                assert not band.found
                assert batch.positions[i, j] == band.expected_nm or batch.heights[i, j] < 0.01
        assert batch.scatter_at_band[i] == pytest.approx(one.scatter.at_band, abs=3e-3)
        assert batch.flags[i] == 0


def test_batch_flags_bad_rows_and_keeps_numbers_finite() -> None:
    samples, dark, reference, _, _ = twin_counts(6, seed=1)
    samples[1, 40] = np.nan
    samples[2, np.argmin(np.abs(WL - 450))] = 65535.0
    samples[3] = 0.0
    samples[4] = 1e300  # finite, but no detector reads that
    batch = analyse_batch(WL, samples, dark, reference, HEXANE, window=WINDOW,
                          scatter_window=SCATTER_WINDOW)
    assert batch.flags[0] == 0
    assert batch.flag_names(1) == frozenset({"nonfinite"})
    assert "saturated" in batch.flag_names(2)
    assert "low_signal" in batch.flag_names(3)
    assert batch.flags[4] & FLAG_BITS["saturated"]  # beyond full scale, as analyse_sample says
    for field in ("heights", "height_sd", "positions", "scatter_at_band", "scatter_n",
                  "offset", "noise_rms"):
        assert np.all(np.isfinite(getattr(batch, field))), field


def test_flat_offset_rows_are_flagged_no_solvent() -> None:
    ref = blank("hexane")
    inst = instrument(ref)
    rng = np.random.default_rng(0)
    a = np.stack([ref + 0.12, ref])
    counts = optics.read_counts(optics.light_counts(WL, a, inst), inst, rng)
    dark = optics.read_counts(np.zeros_like(WL), inst, rng)
    reference = optics.read_counts(optics.light_counts(WL, ref, inst), inst, rng)
    batch = analyse_batch(WL, counts, dark, reference, HEXANE, window=WINDOW,
                          scatter_window=SCATTER_WINDOW)
    assert batch.flag_names(0) == frozenset({"no_solvent"})
    assert batch.flag_names(1) == frozenset()


def test_per_row_dark_and_reference_and_empty_batches() -> None:
    samples, dark, reference, _, _ = twin_counts(3, seed=2)
    shared = analyse_batch(WL, samples, dark, reference, HEXANE, window=WINDOW,
                           scatter_window=SCATTER_WINDOW)
    per_row = analyse_batch(WL, samples, np.tile(dark, (3, 1)), np.tile(reference, (3, 1)),
                            HEXANE, window=WINDOW, scatter_window=SCATTER_WINDOW)
    assert np.allclose(shared.heights, per_row.heights)
    empty = analyse_batch(WL, np.zeros((0, WL.size)), dark, reference, HEXANE, window=WINDOW,
                          scatter_window=SCATTER_WINDOW)
    assert empty.heights.shape == (0, 4)
    assert empty.flags.shape == (0,)


def test_batch_shape_errors_raise_spectrum_error() -> None:
    samples, dark, reference, _, _ = twin_counts(2, seed=3)
    kw = {"window": WINDOW, "scatter_window": SCATTER_WINDOW}
    with pytest.raises(SpectrumError, match="samples has shape"):
        analyse_batch(WL, samples[:, :-1], dark, reference, HEXANE, **kw)
    with pytest.raises(SpectrumError, match="dark has shape"):
        analyse_batch(WL, samples, np.tile(dark, (3, 1)), reference, HEXANE, **kw)
    with pytest.raises(SpectrumError, match="inside window"):
        analyse_batch(WL, samples, dark, reference, HEXANE, window=(300, 500),
                      scatter_window=SCATTER_WINDOW)
    with pytest.raises(SpectrumError, match="not numeric"):
        analyse_batch(WL, [["x"] * WL.size], dark, reference, HEXANE, **kw)
    with pytest.raises(SpectrumError, match="names no bands"):
        analyse_batch(WL, samples, dark, reference, {}, **kw)


def test_batch_of_one_matches_read_helper() -> None:
    s, d, r = read(optics.band_absorbance(WL, [365.0, 335.0], [0.4, 0.22], 12.0), seed=9)
    batch = analyse_batch(WL, s.counts, d.counts, r.counts, HEXANE, window=WINDOW,
                          scatter_window=SCATTER_WINDOW)
    assert batch.heights.shape == (1, 4)
    assert batch.heights[0, 0] == pytest.approx(0.4, rel=0.02)
    assert batch.positions[0, 0] == pytest.approx(365.0, abs=0.2)


@given(rows=st.lists(counts(0), min_size=0, max_size=3), d=counts(1), r=counts(2))
def test_analyse_batch_never_crashes_and_never_returns_nan(
        rows: list[np.ndarray], d: np.ndarray, r: np.ndarray) -> None:
    samples = np.array(rows).reshape(len(rows), N)
    batch = analyse_batch(AXIS, samples, d, r, HEXANE, window=WINDOW,
                          scatter_window=SCATTER_WINDOW)
    assert batch.heights.shape == (len(rows), 4)
    for name in ("heights", "height_sd", "positions", "scatter_at_band", "scatter_n", "offset",
                 "noise_rms"):
        assert np.all(np.isfinite(getattr(batch, name))), name
    shared_bad = not (np.isfinite(d).all() and np.isfinite(r).all())
    for i, row in enumerate(rows):
        if shared_bad or not np.isfinite(row).all():
            assert "nonfinite" in batch.flag_names(i)
