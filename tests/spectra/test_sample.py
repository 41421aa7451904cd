"""One sample → band positions, heights, scatter, residual features and flags."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mscrobot.spectra import SampleAnalysis, SpectrumError, analyse_sample
from tests.spectra.helpers import (
    DMF_EDGE,
    HEXANE,
    SCATTER_WINDOW,
    WINDOW,
    WL,
    blank,
    cell,
    read,
    with_counts,
)


def analyse(a: np.ndarray, *, solvent: str = "hexane", seed: int = 0,
            solvent_edge: tuple[float, float] | None = None, **changes: object) -> SampleAnalysis:
    s, d, r = read(a, solvent=solvent, seed=seed, **changes)
    return analyse_sample(s, d, r, HEXANE, window=WINDOW, scatter_window=SCATTER_WINDOW,
                          solvent_edge=solvent_edge)


@pytest.mark.parametrize("seed", range(4))
def test_cds34_in_hexane_bands_are_recovered(seed: int) -> None:
    res = analyse(cell([365.0, 335.0], [0.6, 0.35]), seed=seed)
    first, second = res.sets["nonpolar"]
    assert first.found
    assert second.found
    assert first.position_nm == pytest.approx(365.0, abs=1.0)
    assert second.position_nm == pytest.approx(335.0, abs=1.0)
    assert first.height == pytest.approx(0.6, rel=0.03)
    assert second.height == pytest.approx(0.35, rel=0.03)
    assert first.fwhm_nm == pytest.approx(12.0, rel=0.05)
    assert 0 < first.position_sd_nm < 0.1
    assert 0 < first.height_sd < 0.01
    assert not any(b.found for b in res.sets["polar"])
    assert res.flags == frozenset()
    assert res.extra_band_nm is None
    assert res.height("nonpolar") == first.height
    assert res.height("missing") == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_cds34_in_dmf_bands_are_recovered_against_a_dmf_blank(seed: int) -> None:
    res = analyse(cell([356.0, 327.4], [0.5, 0.28], solvent="dmf"), solvent="dmf", seed=seed,
                  solvent_edge=DMF_EDGE)
    first, second = res.sets["polar"]
    assert first.position_nm == pytest.approx(356.0, abs=1.0)
    assert second.position_nm == pytest.approx(327.4, abs=1.0)
    assert first.height == pytest.approx(0.5, rel=0.03)
    assert second.height == pytest.approx(0.28, rel=0.03)
    assert not any(b.found for b in res.sets["nonpolar"])
    assert res.flags == frozenset()


@pytest.mark.parametrize(("h365", "h356"), [(0.3, 0.2), (0.1, 0.5), (0.5, 0.1), (0.15, 0.15)])
def test_a_mixture_of_both_phases_is_separated(h365: float, h356: float) -> None:
    """Hexane carrying DMF droplets: the 9 nm-apart bands are fitted jointly, not merged."""
    a = cell([365.0, 335.0, 356.0, 327.4], [h365, 0.55 * h365, h356, 0.55 * h356],
             scatter=(0.01, 0.0, 0.0))
    res = analyse(a, seed=int(100 * h365))
    nonpolar, polar = res.sets["nonpolar"][0], res.sets["polar"][0]
    assert nonpolar.found
    assert polar.found
    assert nonpolar.height == pytest.approx(h365, rel=0.10)
    assert polar.height == pytest.approx(h356, rel=0.10)
    assert nonpolar.position_nm == pytest.approx(365.0, abs=1.0)
    assert polar.position_nm == pytest.approx(356.0, abs=1.0)


def test_a_trace_of_the_other_phase_is_not_invented() -> None:
    for seed in range(5):
        res = analyse(cell([365.0, 335.0], [0.8, 0.44]), seed=seed)
        assert not any(b.found for b in res.sets["polar"])
        assert res.sets["polar"][0].height < 0.01


def test_rayleigh_scatter_is_told_from_flat_scatter() -> None:
    bands = ([365.0, 335.0], [0.4, 0.22])
    rayleigh = analyse(cell(*bands, scatter=(0.0, 0.1, 4.0)), seed=1)
    assert rayleigh.scatter.n == pytest.approx(4.0, abs=0.5)
    assert rayleigh.scatter.at_band == pytest.approx(0.1 * (365 / 400) ** -4, rel=0.05)
    assert rayleigh.sets["nonpolar"][0].height == pytest.approx(0.4, rel=0.03)
    flat = analyse(cell(*bands, scatter=(0.08, 0.0, 0.0)), seed=1)
    assert flat.scatter.n == 0.0
    assert flat.scatter.b == 0.0
    assert flat.scatter.a == pytest.approx(0.08, abs=3e-3)
    assert flat.sets["nonpolar"][0].height == pytest.approx(0.4, rel=0.03)
    droplets = analyse(cell(*bands, scatter=(0.0, 0.08, 0.4)), seed=1)
    assert droplets.scatter.n < 2.0  # nearly flat: far from aggregates' ~4
    assert droplets.scatter.at_band == pytest.approx(0.08 * (365 / 400) ** -0.4, rel=0.1)


def test_an_air_filled_cell_is_refused() -> None:
    """Air against a DMF blank: the DMF edge below 268 nm goes strongly negative."""
    air = np.full(WL.size, 0.04)  # reflection losses of an empty cell, no solvent edge
    res = analyse(air, solvent="dmf", solvent_edge=DMF_EDGE)
    assert "no_solvent" in res.flags
    ok = analyse(blank("dmf"), solvent="dmf", solvent_edge=DMF_EDGE)
    assert "no_solvent" not in ok.flags


def test_a_flat_offset_without_bands_is_refused_but_a_clean_blank_is_not() -> None:
    rinse = analyse(cell(scatter=(0.12, 0.0, 0.0)))
    assert "no_solvent" in rinse.flags
    assert rinse.offset == pytest.approx(0.12, abs=5e-3)
    empty_dmf_phase = analyse(cell())
    assert "no_solvent" not in empty_dmf_phase.flags


def test_saturation_and_low_signal_reach_the_analysis() -> None:
    a = cell([365.0, 335.0], [0.6, 0.35])
    assert "saturated" in analyse(a, integration_ms=100.0).flags
    assert "low_signal" in analyse(a, integration_ms=0.5).flags
    assert "low_signal" in analyse(cell([365.0, 335.0], [3.5, 2.0])).flags


def test_red_tail_and_new_band_are_reported() -> None:
    clean = analyse(cell([365.0, 335.0], [0.6, 0.35]))
    assert abs(clean.red_tail) < 2e-3
    tail = np.where(WL > 365, 0.06 * np.exp(-(WL - 365) / 40.0), 0.0)
    tailed = analyse(cell([365.0, 335.0], [0.6, 0.35]) + tail)
    assert tailed.red_tail > 0.01
    new = analyse(cell([365.0, 335.0, 405.0], [0.6, 0.35, 0.05]))
    assert new.extra_band_nm == pytest.approx(405.0, abs=2.0)
    assert new.extra_band_height == pytest.approx(0.05, rel=0.25)


def test_broadened_and_shifted_bands_are_measured() -> None:
    broad = analyse(cell([365.0, 335.0], [0.5, 0.27], fwhm=20.0))
    assert broad.sets["nonpolar"][0].fwhm_nm == pytest.approx(20.0, rel=0.05)
    shifted = analyse(cell([368.5, 338.5], [0.5, 0.27]))
    assert shifted.sets["nonpolar"][0].position_nm == pytest.approx(368.5, abs=0.3)
    assert shifted.sets["nonpolar"][0].found


def test_lamp_drift_is_an_offset_not_a_band() -> None:
    res = analyse(cell([365.0, 335.0], [0.6, 0.35]), lamp_drift=0.97)
    assert res.offset == pytest.approx(-np.log10(0.97), abs=3e-3)
    assert res.sets["nonpolar"][0].height == pytest.approx(0.6, rel=0.03)


def test_configuration_errors_raise_spectrum_error() -> None:
    s, d, r = read(cell([365.0], [0.5]))
    with pytest.raises(SpectrumError, match="outside the analysis window"):
        analyse_sample(s, d, r, {"x": [250.0]}, window=WINDOW, scatter_window=SCATTER_WINDOW)
    with pytest.raises(SpectrumError, match="holds 0 pixels"):
        analyse_sample(s, d, r, HEXANE, window=WINDOW, scatter_window=(900, 950))
    with pytest.raises(SpectrumError, match="lo < hi"):
        analyse_sample(s, d, r, HEXANE, window=(600, 300), scatter_window=SCATTER_WINDOW)
    with pytest.raises(SpectrumError, match="shape_mismatch"):
        analyse_sample(with_counts(s, s.counts[:10]), d, r, HEXANE, window=WINDOW,
                       scatter_window=SCATTER_WINDOW)


def test_nan_counts_in_the_window_are_flagged_and_the_rest_still_analysed() -> None:
    s, d, r = read(cell([365.0, 335.0], [0.6, 0.35]))
    counts = s.counts.copy()
    counts[np.argmin(np.abs(WL - 500.0))] = np.nan
    res = analyse_sample(with_counts(s, counts), d, r, HEXANE, window=WINDOW,
                         scatter_window=SCATTER_WINDOW)
    assert "nonfinite" in res.flags
    assert res.sets["nonpolar"][0].height == pytest.approx(0.6, rel=0.03)


def test_shared_positions_empty_sets_and_a_separate_scatter_window() -> None:
    s, d, r = read(cell([365.0, 335.0], [0.6, 0.35]))
    same = analyse_sample(s, d, r, {"a": [365.0], "b": [365.2, 335.0]}, window=WINDOW,
                          scatter_window=SCATTER_WINDOW)
    assert same.sets["a"][0].height == same.sets["b"][0].height == pytest.approx(0.6, rel=0.03)
    none = analyse_sample(s, d, r, {}, window=WINDOW, scatter_window=SCATTER_WINDOW)
    assert none.sets == {}
    assert math.isfinite(none.offset)
    apart = analyse_sample(s, d, r, HEXANE, window=(300.0, 420.0), scatter_window=(450, 650))
    assert apart.sets["nonpolar"][0].height == pytest.approx(0.6, rel=0.03)
