"""Anything may come in: the answer is a flagged analysis or SpectrumError, never a crash,
never a silent NaN."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mscrobot.spectra import (
    SampleAnalysis,
    Spectrum,
    SpectrumError,
    analyse_sample,
    to_absorbance,
)
from mscrobot.twin import optics
from tests.spectra.helpers import HEXANE, SCATTER_WINDOW, WINDOW

AXIS = np.linspace(280.0, 640.0, 160)  # a coarse axis keeps examples fast
N = AXIS.size
_INST = optics.Instrument()
_A = optics.band_absorbance(AXIS, [365.0, 335.0], [0.5, 0.27], 12.0)
_REALISTIC = tuple(
    optics.read_counts(optics.light_counts(AXIS, a, _INST), _INST, np.random.default_rng(0))
    for a in (_A, np.zeros(N), np.zeros(N))
)
_REALISTIC = (_REALISTIC[0], optics.read_counts(np.zeros(N), _INST, np.random.default_rng(1)),
              _REALISTIC[1])

special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -1.0, 65535.0, 1e300, -1e300, 5e-324])
anything = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def counts(draw: st.DrawFn, which: int) -> np.ndarray:
    """Realistic counts with some pixels broken, or arbitrary floats, or a constant."""
    kind = draw(st.sampled_from(["broken", "random", "constant"]))
    if kind == "random":
        return draw(hnp.arrays(np.float64, N, elements=anything))
    if kind == "constant":
        return np.full(N, draw(st.one_of(special, st.floats(-1e6, 1e6))))
    base = _REALISTIC[which].copy()
    idx = draw(st.lists(st.integers(0, N - 1), max_size=8))
    for i in idx:
        base[i] = draw(st.one_of(special, anything))
    return base


def _finite_analysis(res: SampleAnalysis) -> None:
    numbers = [res.offset, res.noise_rms, res.red_tail, res.extra_band_height]
    numbers += [getattr(res.scatter, f.name) for f in fields(res.scatter)]
    for bands in res.sets.values():
        for band in bands:
            numbers += [band.position_nm, band.height, band.fwhm_nm, band.position_sd_nm,
                        band.height_sd]
    assert all(math.isfinite(x) for x in numbers), res
    assert res.extra_band_nm is None or math.isfinite(res.extra_band_nm)


@given(s=counts(0), d=counts(1), r=counts(2), cut=st.sampled_from([0, 0, 0, 1]),
       shift=st.sampled_from([0.0, 0.0, 0.0, 0.2]),
       t=st.sampled_from([10.0, 10.0, 3.0, 0.0, -1.0, float("nan")]))
def test_analyse_sample_never_crashes_and_never_returns_nan(
        s: np.ndarray, d: np.ndarray, r: np.ndarray, cut: int, shift: float, t: float) -> None:
    sample = Spectrum(AXIS[:N - cut], s[:N - cut], t)
    dark = Spectrum(AXIS + shift, d, 10.0)
    reference = Spectrum(AXIS, r, 10.0)
    malformed = bool(cut or shift) or not t > 0
    try:
        res = analyse_sample(sample, dark, reference, HEXANE, window=WINDOW,
                             scatter_window=SCATTER_WINDOW, solvent_edge=(285.0, 295.0))
        a, flags = to_absorbance(sample, dark, reference, window=WINDOW)
    except SpectrumError:
        raised = True
    else:
        raised = False
    assert raised == malformed  # SpectrumError for malformed input, and only for that
    if raised:
        return
    _finite_analysis(res)
    broken = not (np.isfinite(s).all() and np.isfinite(d).all() and np.isfinite(r).all())
    assert ("nonfinite" in res.flags) == broken == ("nonfinite" in flags)
    assert not np.isinf(a).any()  # capped, never infinite
    bad_pixels = ~(np.isfinite(s) & np.isfinite(d) & np.isfinite(r))
    assert np.array_equal(np.isnan(a), bad_pixels)  # NaN exactly where counts were not finite
