"""One measured sample → ``SampleAnalysis``: the numbers the decision logic reasons with.

Order matters: absorbance and read flags; scatter baseline fitted where clusters do not absorb
and extrapolated under the bands; bands of every set fitted jointly on what is left, then
refined together with the baseline (``bands.py``); then the residual is searched for what the
bands and the scatter do not explain (a red tail, a new band) and for signs that the cell held
no solvent at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mscrobot.spectra.bands import (
    DEFAULT_FWHM_NM,
    SIGNIFICANCE,
    UNREFINED_POSITION_SD_NM,
    BandFit,
    fit_bands,
    noise_sd,
)
from mscrobot.spectra.correction import FIT_FAILED, NO_SOLVENT, to_absorbance
from mscrobot.spectra.inputs import (
    check_band_sets,
    check_positive,
    check_spectra,
    check_window,
    unique_positions,
    window_slice,
)
from mscrobot.spectra.scatter import fit_scatter
from mscrobot.spectra.types import BandEstimate, FloatArray, SampleAnalysis, ScatterFit, Spectrum

#: Bands are fitted up to this far (nm) beyond the reddest expected band; redder than that
#: is the red-tail region, kept out of the band fit so a tail is reported, not absorbed.
RED_TAIL_START_NM = 15.0
#: A residual peak closer than this (nm) to an expected band is that band's misfit.
EXTRA_BAND_EXCLUSION_NM = 8.0
#: Residual smoothing (nm) and local-maximum neighbourhood (±nm) for the extra-band search.
EXTRA_BAND_SMOOTH_NM = 2.0
EXTRA_BAND_NEIGHBOURHOOD_NM = 5.0
#: An extra band must stand this many (smoothed-residual) noise sd above zero.
EXTRA_BAND_SIGNIFICANCE = 5.0
#: Mean absorbance over the solvent edge below this: the reference's solvent is missing.
NO_SOLVENT_EDGE_AU = -0.1
#: A flat spectrum (no significant band) offset by more than this is air or rinse.
NO_SOLVENT_FLAT_OFFSET_AU = 0.05


def _smooth(y: FloatArray, width: int) -> FloatArray:
    """Centred moving average (edges averaged over what exists)."""
    if width <= 1 or y.size < width:
        return y.copy()
    c = np.concatenate([[0.0], np.cumsum(y)])
    half = width // 2
    i = np.arange(y.size)
    lo, hi = np.clip(i - half, 0, y.size), np.clip(i + half + 1, 0, y.size)
    return np.asarray((c[hi] - c[lo]) / (hi - lo), float)


def _extra_band(
    wl: FloatArray, resid: FloatArray, expected: FloatArray, sigma: float
) -> tuple[float | None, float]:
    """Largest significant local maximum of the smoothed residual away from expected bands."""
    step = float(np.median(np.diff(wl)))
    width = max(round(EXTRA_BAND_SMOOTH_NM / step), 1)
    sm = _smooth(resid, width)
    allowed = np.ones(wl.size, bool)
    for p in expected:
        allowed &= np.abs(wl - p) > EXTRA_BAND_EXCLUSION_NM
    edge = EXTRA_BAND_NEIGHBOURHOOD_NM
    allowed &= (wl > wl[0] + edge) & (wl < wl[-1] - edge)
    if not np.any(allowed):
        return None, 0.0
    mad = float(1.4826 * np.median(np.abs(sm[allowed] - np.median(sm[allowed]))))
    threshold = EXTRA_BAND_SIGNIFICANCE * max(mad, sigma / np.sqrt(width), 1e-12)
    for i in np.flatnonzero(allowed)[np.argsort(-sm[allowed])]:
        if sm[i] <= threshold:
            break
        near = np.abs(wl - wl[i]) <= edge
        if sm[i] >= np.max(sm[near]):
            return float(wl[i]), float(sm[i])
    return None, 0.0


def _estimates(fit: BandFit, idx: Sequence[int], expected: Sequence[float]) -> tuple[
        BandEstimate, ...]:
    return tuple(
        BandEstimate(float(e), float(fit.position[i]), float(fit.height[i]), float(fit.fwhm[i]),
                     float(fit.position_sd[i]), float(fit.height_sd[i]), bool(fit.found[i]))
        for i, e in zip(idx, expected, strict=True))


def _empty(sets: Mapping[str, tuple[float, ...]], flags: set[str]) -> SampleAnalysis:
    """An analysis that reports nothing found (the read could not be analysed)."""
    bands = {name: tuple(BandEstimate(p, p, 0.0, DEFAULT_FWHM_NM, UNREFINED_POSITION_SD_NM,
                                      0.0, False) for p in ps) for name, ps in sets.items()}
    return SampleAnalysis(bands, ScatterFit(0.0, 0.0, 0.0, 0.0, 0.0), 0.0, 0.0, 0.0, None, 0.0,
                          frozenset(flags))


def analyse_sample(
    sample: Spectrum,
    dark: Spectrum,
    reference: Spectrum,
    band_sets: Mapping[str, Sequence[float]],
    *,
    window: Any,
    scatter_window: Any,
    solvent_edge: Any = None,
    fwhm_nm: float = DEFAULT_FWHM_NM,
    continua: Mapping[str, float] | None = None,
    fit_from_nm: float | None = None,
) -> SampleAnalysis:
    """Analyse one sample read against its dark and reference.

    ``band_sets`` maps a set name to expected band positions (nm), e.g. ``{"nonpolar": [365,
    335], "polar": [356, 327.4]}``; all bands of all sets are fitted jointly. ``window`` (nm)
    bounds the analysis, ``scatter_window`` is where clusters do not absorb (CdS: 430-600 nm),
    ``solvent_edge`` (nm) a range where the reference's solvent absorbs strongly (its absence
    flags 'no_solvent'). ``continua`` maps a set name to the onset (nm) of its clusters'
    interband continuum, fitted under the bands; ``fit_from_nm`` keeps the band fit to the red
    of where that continuum grows beyond what its approximate shape describes (the window still
    bounds the rest of the analysis). Returns a flagged analysis for bad reads; raises
    SpectrumError for input that cannot be analysed at all (mismatched axes or lengths, empty
    windows).
    """
    wl, _ = check_spectra(sample=sample, dark=dark, reference=reference)
    fwhm_nm = check_positive(fwhm_nm, "fwhm_nm")
    win = check_window(window, "window")
    swin = check_window(scatter_window, "scatter_window")
    edge = None if solvent_edge is None else check_window(solvent_edge, "solvent_edge")
    sets = check_band_sets(band_sets, win)
    w_sl = window_slice(wl, win, "window")
    s_sl = window_slice(wl, swin, "scatter_window")
    expected, set_index = unique_positions(sets)

    span = (min(win[0], swin[0]), max(win[1], swin[1]))
    a, read = to_absorbance(sample, dark, reference, window=span)
    flags = set(read)

    wl_w, a_w = wl[w_sl], a[w_sl]
    ok_w = np.isfinite(a_w)
    if np.count_nonzero(ok_w) < max(8, 2 * expected.size + 4):
        return _empty(sets, flags)
    offset = float(np.median(a_w[ok_w]))
    first = float(expected[0]) if expected.size else float(np.mean(swin))
    wl_s, a_s = wl[s_sl], a[s_sl]
    ok_s = np.isfinite(a_s)
    scatter0 = fit_scatter(wl_s, a_s, first)

    top = float(np.max(expected)) + RED_TAIL_START_NM if expected.size else win[0]
    in_fit = ok_w & (wl_w <= top) & ((wl_w < swin[0]) | (wl_w > swin[1]))
    if fit_from_nm is not None:
        in_fit &= wl_w >= fit_from_nm
    onsets = [float(v) for v in (continua or {}).values()]
    base0 = (scatter0.a, scatter0.b, scatter0.n)
    if expected.size and np.count_nonzero(in_fit) >= 3 * expected.size + 2:
        sigma = noise_sd(a_w[in_fit])
        fit = fit_bands(wl_w[in_fit], a_w[in_fit], expected, sigma=sigma, scatter=scatter0,
                        scatter_wl=wl_s[ok_s], scatter_y=a_s[ok_s], fwhm_nm=fwhm_nm,
                        groups=list(set_index.values()), continua=onsets)
    else:
        sigma = noise_sd(a_w[ok_w])
        zeros = np.zeros(expected.size)
        fit = BandFit(expected.copy(), zeros, np.full(expected.size, fwhm_nm),
                      np.full(expected.size, UNREFINED_POSITION_SD_NM), zeros.copy(),
                      np.zeros(expected.size, bool), False, base0)
        if expected.size:
            flags.add(FIT_FAILED)
    if fit.failed:
        flags.add(FIT_FAILED)

    s_resid = a_s[ok_s] - fit.baseline_at(wl_s[ok_s]) - fit.model(wl_s[ok_s])
    scatter = ScatterFit(*fit.baseline, float(fit.baseline_at(np.array([first]))[0]),
                         float(np.sqrt(np.mean(s_resid**2))) if s_resid.size else 0.0)
    resid = np.where(ok_w, a_w - fit.baseline_at(wl_w) - fit.model(wl_w), 0.0)
    noise_rms = float(np.sqrt(np.mean(resid[in_fit] ** 2))) if np.any(in_fit) else 0.0
    tail = ok_w & (wl_w >= top) & (wl_w < swin[0])
    red_tail = float(np.mean(resid[tail])) if np.any(tail) else 0.0
    extra_nm, extra_h = _extra_band(wl_w, resid, expected, sigma)

    if edge is not None:
        e_ok = np.isfinite(a) & (wl >= edge[0]) & (wl <= edge[1])
        if np.any(e_ok) and float(np.mean(a[e_ok])) < NO_SOLVENT_EDGE_AU:
            flags.add(NO_SOLVENT)
    flat = not np.any(fit.height > SIGNIFICANCE * fit.height_sd)
    if flat and abs(offset) > NO_SOLVENT_FLAT_OFFSET_AU:
        flags.add(NO_SOLVENT)

    bands = {name: _estimates(fit, set_index[name], sets[name]) for name in sets}
    return SampleAnalysis(bands, scatter, offset, noise_rms, red_tail, extra_nm, extra_h,
                          frozenset(flags))
