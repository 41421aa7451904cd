"""Many spectra at once: the same questions as ``analyse_sample``, answered with array algebra.

Not on the engine's path (a run analyses each sample as it arrives with ``analyse_sample``):
it lives here, beside ``analysis.py``, which measures how much faster a vectorised analysis
could re-analyse whole runs, and how closely it agrees with the per-spectrum fit. A
per-spectrum scipy fit takes ~20 ms.

Here every step is a whole-array operation over a block of spectra (no Python loop over
spectra): window pixels only; absorbance; scatter baseline a + b·(λ/400)^-n and band heights
(Gaussians fixed at the expected positions and default FWHM) by one linear least-squares fit
per n on a grid of n, all n and all spectra in one matrix product, the best n picked per
spectrum; band positions by a weighted least-squares parabola through the logarithm of each
band (exact for a Gaussian; Guo's weighting) after the other bands' fitted contributions are
subtracted. Like the refinement in ``analyse_sample``, the baseline is fitted on the band
region and the scatter window together, not extrapolated from the scatter window alone: a
small error in n would otherwise leave a few mAU under the bands (10 % of a 0.05 AU band).

Float32 arithmetic: absorbance noise (~1e-3 AU) is far above float32 rounding (~1e-7); sums of
squares are taken on rows shifted by one of their own pixels so they do not cancel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mscrobot.spectra.bands import DEFAULT_FWHM_NM, POSITION_TOLERANCE_NM, SIGNIFICANCE, gaussians
from mscrobot.spectra.correction import (
    ABSORBANCE_CAP,
    LOW_REFERENCE_FRACTION,
    LOW_REFERENCE_PIXEL_FRACTION,
    MAX_RELIABLE_ABSORBANCE,
    MAX_RELIABLE_MIN_PIXELS,
)
from mscrobot.spectra.inputs import (
    SpectrumError,
    as_float_array,
    check_axis,
    check_band_sets,
    check_positive,
    check_window,
    unique_positions,
    window_slice,
)
from mscrobot.spectra.sample import NO_SOLVENT_FLAT_OFFSET_AU, RED_TAIL_START_NM
from mscrobot.spectra.scatter import FLAT_DELTA_CHI2, N_GRID, SCATTER_REFERENCE_NM, scatter_basis
from mscrobot.spectra.types import FULL_SCALE_COUNTS, SATURATION_FRACTION, FloatArray

#: Bits of ``BatchAnalysis.flags`` (same meaning as the string flags of ``analyse_sample``).
FLAG_NONFINITE = np.uint8(1)  # NaN/inf in the row's counts (whole axis)
FLAG_SATURATED = np.uint8(2)  # a sample or reference pixel in the window ≥ 99.9 % full scale
FLAG_LOW_SIGNAL = np.uint8(4)  # too little reference light, or ≥ 3 pixels above 2.5 AU
FLAG_NO_SOLVENT = np.uint8(8)  # flat (no significant band) with |mean offset| > 0.05 AU
FLAG_BITS: dict[str, int] = {"nonfinite": 1, "saturated": 2, "low_signal": 4, "no_solvent": 8}

#: Spectra per block: a block's window (~1000 float32 pixels each) stays in cache.
BLOCK = 512
#: Half-width of the log-parabola window (nm) around a band: ±0.6 FWHM holds most of the
#: position information of a Gaussian (its slope peaks at ±0.42 FWHM).
_HALF_WIDTH_FWHM = 0.6
_TINY = np.float32(10.0 ** -ABSORBANCE_CAP)
_HUGE = np.float32(10.0 ** ABSORBANCE_CAP)
#: A first vertex further than this (nm) from its window's centre is refitted re-centred.
_RECENTRE_NM = 1.5
_MINUS_LOG10_E = np.float32(-1.0 / np.log(10.0))
_OPAQUE_T = np.float32(10.0 ** -MAX_RELIABLE_ABSORBANCE)
#: A found band must exceed this fraction of the tallest band (model misfit, see _block).
_MISFIT_FRACTION = 0.01
#: Scatter-window bin width (nm) for the batch fit (4 HDX pixels).
_SCATTER_BIN_NM = 1.2


@dataclass(frozen=True)
class BatchAnalysis:
    """Results for m spectra and k bands (columns in ``band_names`` order, "set[i]").

    ``positions`` are log-parabola vertices where ``found`` (height > 3 sd, > 1 % of the
    tallest band, and a vertex within ±6 nm of expected), else the expected position.
    ``scatter_n`` is the grid n (step 0.2; 0 = flat), ``scatter_at_band`` the baseline at the
    first band, ``offset`` the mean absorbance over the band region and the scatter window
    (``analyse_sample``: the median of the window), ``noise_rms`` the band-region residual.
    ``flags`` is a bitmask per spectrum, bits in ``FLAG_BITS``; every number is finite, but
    those of flagged rows are not to be trusted.
    """

    band_names: tuple[str, ...]
    expected_nm: FloatArray
    heights: NDArray[np.float32]
    height_sd: NDArray[np.float32]
    positions: NDArray[np.float32]
    found: NDArray[np.bool_]
    scatter_at_band: NDArray[np.float32]
    scatter_n: NDArray[np.float32]
    offset: NDArray[np.float32]
    noise_rms: NDArray[np.float32]
    flags: NDArray[np.uint8]

    def flag_names(self, row: int) -> frozenset[str]:
        """The string flags of one spectrum, as ``analyse_sample`` would name them."""
        bits = int(self.flags[row])
        return frozenset(name for name, bit in FLAG_BITS.items() if bits & bit)


@dataclass(frozen=True)
class _Plan:
    """Everything that depends only on the axis and the settings, computed once per call.

    The joint fit uses the band region (``f_rel``) and the scatter window (``s_rel``), two
    disjoint pixel ranges of the window; its products are split over the two ranges so the
    spectra are never copied into one array. Scatter-window pixels are averaged in bins of
    ~1.2 nm before the logarithm (the baseline is smooth there); a bin enters the fit as
    √bin × its mean, which has the noise of one pixel, so the least squares stays unweighted.
    With B0 = [1, Gaussians] and F the scatter basis on the grid of n, ``proj`` holds,
    column-wise: F⊥ᵀ (F minus its projection on B0; G columns), Q0 (orthonormal basis of B0;
    k+1) and pinv(B0)ᵀ (k+1).
    """

    w_sl: slice
    f_rel: slice
    s_rel: slice  # scatter-window pixels (a whole number of bins)
    s_bin: int  # pixels per scatter-window bin
    proj_f: NDArray[np.float32]  # (p_f, G + 2(k+1)) rows of ``proj`` on the band region
    proj_s: NDArray[np.float32]  # (bins, G + 2(k+1)) rows of ``proj`` on the scatter bins
    perp_var: FloatArray  # (G,) |F⊥_n|²
    basis_b0: FloatArray  # (G, k+1) F_n @ pinv(B0)ᵀ: what b·f_n adds to (a, heights)
    unit_sd: FloatArray  # (G + 1, k) height sd per unit noise, per n (last row: flat)
    basis_fit: NDArray[np.float32]  # (G, p_f) scatter basis on the band region
    profiles: NDArray[np.float32]  # (k, p_f) unit Gaussians
    wl_fit: FloatArray
    expected: FloatArray
    half: int
    lo_idx: NDArray[np.intp]
    centres: FloatArray  # (k,) wavelength at each band window's centre pixel
    scales: FloatArray  # (k,) window half-width (nm): u = (λ - centre) / scale in [-1, 1]
    powers: NDArray[np.float32]  # (k, w, 5) u^0..u^4 per band window
    at_band: FloatArray  # (G,) (λ_first/400)^-n
    dof: int


def _plan(wl: FloatArray, win: tuple[float, float], swin: tuple[float, float],
          expected: FloatArray, fwhm: float) -> _Plan:
    w_sl = window_slice(wl, win, "window")
    s_sl = window_slice(wl, swin, "scatter_window")
    if s_sl.start < w_sl.start or s_sl.stop > w_sl.stop:
        raise SpectrumError(
            f"scatter_window {swin[0]:g}-{swin[1]:g} nm must lie inside window "
            f"{win[0]:g}-{win[1]:g} nm for the batch path")
    wl_w = wl[w_sl]
    s_rel = slice(s_sl.start - w_sl.start, s_sl.stop - w_sl.start)
    top = float(np.max(expected)) + RED_TAIL_START_NM
    f_stop = min(int(np.searchsorted(wl_w, top, side="right")), s_rel.start)
    wl_fit = wl_w[:f_stop]
    step = float(np.median(np.diff(wl_w)))
    half = max(round(_HALF_WIDTH_FWHM * fwhm / step), 2)
    if f_stop < max(3 * expected.size + 2, 2 * half + 1):
        raise SpectrumError(
            f"window {win[0]:g}-{win[1]:g} nm leaves too few pixels below the scatter window "
            "to fit the bands")
    s_bin = max(round(_SCATTER_BIN_NM / step), 1)
    nbins = (s_rel.stop - s_rel.start) // s_bin
    s_rel = slice(s_rel.start, s_rel.start + nbins * s_bin)
    wl_s = wl_w[s_rel].reshape(nbins, s_bin)
    root = np.sqrt(s_bin)

    def rows(fn: Any) -> FloatArray:  # (r, n) design rows → band pixels, then scatter bins
        binned = fn(wl_s.ravel()).reshape(-1, nbins, s_bin).mean(axis=-1)
        return np.concatenate([fn(wl_fit), root * binned], axis=-1)

    b0 = np.vstack([rows(lambda x: np.ones((1, x.size))),
                    rows(lambda x: gaussians(x, expected, fwhm).T)]).T
    q0, _ = np.linalg.qr(b0)
    p0 = np.linalg.pinv(b0)  # (k+1, p)
    f = rows(lambda x: scatter_basis(x, N_GRID))  # (G, p)
    perp = f - (f @ q0) @ q0.T
    proj = np.concatenate([perp.T, q0, p0.T], axis=1)
    unit_sd = np.empty((N_GRID.size + 1, expected.size))
    for i, row in enumerate(f):  # per n: sd of the heights for unit pixel noise
        cov = np.linalg.pinv(np.column_stack([b0, row]).T @ np.column_stack([b0, row]))
        unit_sd[i] = np.sqrt(np.clip(np.diag(cov)[1:-1], 0.0, None))
    unit_sd[-1] = np.sqrt(np.clip(np.diag(np.linalg.pinv(b0.T @ b0))[1:], 0.0, None))
    centre = np.searchsorted(wl_fit, expected)
    lo_idx = np.clip(centre - half, 0, wl_fit.size - 2 * half - 1).astype(np.intp)
    cols = lo_idx[:, None] + np.arange(2 * half + 1)[None, :]
    centres = wl_fit[lo_idx + half]
    scales = np.max(np.abs(wl_fit[cols] - centres[:, None]), axis=1)
    u = (wl_fit[cols] - centres[:, None]) / scales[:, None]
    f32 = np.float32
    return _Plan(
        w_sl=w_sl, f_rel=slice(0, f_stop), s_rel=s_rel, s_bin=s_bin,
        proj_f=proj[:f_stop].astype(f32), proj_s=proj[f_stop:].astype(f32),
        perp_var=np.einsum("ij,ij->i", perp, perp), basis_b0=f @ p0.T, unit_sd=unit_sd,
        basis_fit=f[:, :f_stop].astype(f32), profiles=b0[:f_stop, 1:].T.astype(f32),
        wl_fit=wl_fit, expected=expected, half=half, lo_idx=lo_idx,
        centres=centres, scales=scales, powers=(u[..., None] ** np.arange(5)).astype(f32),
        at_band=(float(expected[0]) / SCATTER_REFERENCE_NM) ** -N_GRID,
        dof=max(f_stop + nbins - expected.size - 3, 1),
    )


def _joint_fit(plan: _Plan, a_f: NDArray[np.float32], a_s: NDArray[np.float32]) -> tuple[
        NDArray[Any], ...]:
    """Baseline a + b·f_n and band heights by linear least squares on the grid of n.

    ``a_f``: absorbance on the band region; ``a_s``: bin means on the scatter window. For each
    n the model [1, f_n, Gaussians] is linear; the best n per spectrum maximises the variance
    explained by f_n beyond [1, Gaussians], i.e. (y·f⊥_n)²/|f⊥_n|², so one matrix product
    serves every n. A sloped baseline that does not beat a constant by FLAT_DELTA_CHI2 noise
    variances is reported flat (n = 0, b = 0), as in ``fit_scatter``. Rows are shifted by one
    of their own values first (the constant column absorbs it) so float32 sums of squares do
    not cancel. Returns (a, b, grid index, flat, heights, noise sd).
    """
    g = N_GRID.size
    k1 = plan.expected.size + 1
    shift = a_s[:, a_s.shape[1] // 2:a_s.shape[1] // 2 + 1]
    yf = a_f - shift
    ys = a_s - shift
    ys *= np.float32(np.sqrt(plan.s_bin))
    prod = (yf @ plan.proj_f + ys @ plan.proj_s).astype(np.float64)  # (m, G + 2(k+1))
    cov, q, lin = prod[:, :g], prod[:, g:g + k1], prod[:, g + k1:]
    sq = (np.einsum("ij,ij->i", yf, yf) + np.einsum("ij,ij->i", ys, ys)).astype(np.float64)
    perp_ss = np.maximum(sq - np.einsum("ij,ij->i", q, q), 0.0)  # |y⊥|² beyond [1, G]
    gain = cov**2 / plan.perp_var
    idx = np.argmax(gain, axis=1)
    rows = np.arange(a_f.shape[0])
    best = gain[rows, idx]
    rss = np.maximum(perp_ss - best, 0.0)
    flat = best < FLAT_DELTA_CHI2 * np.maximum(rss / plan.dof, 1e-300)
    rss = np.where(flat, perp_ss, rss)
    b = np.where(flat, 0.0, cov[rows, idx] / plan.perp_var[idx])
    coef = lin - b[:, None] * plan.basis_b0[idx]  # (a, heights) given b·f_n
    coef[:, 0] += shift[:, 0]
    sigma = np.sqrt(rss / plan.dof)
    return coef[:, 0], b, idx, flat, coef[:, 1:], sigma


def _cramer_vertex(s: NDArray[np.float32], t: NDArray[np.float32]) -> tuple[
        NDArray[np.float32], NDArray[np.bool_]]:
    """Vertex -c1/(2 c2) of the weighted parabola from its moments s0..s4 and t0..t2 (last axis),
    by Cramer's rule on [[s0 s1 s2][s1 s2 s3][s2 s3 s4]] c = t; valid where it is a maximum."""
    s0, s1, s2, s3, s4 = (s[..., i] for i in range(5))
    t0, t1, t2 = (t[..., i] for i in range(3))
    m12 = s1 * s4 - s3 * s2
    m13 = s1 * s3 - s2 * s2
    det = s0 * (s2 * s4 - s3 * s3) - s1 * m12 + s2 * m13
    c1 = s0 * (t1 * s4 - s3 * t2) - t0 * m12 + s2 * (s1 * t2 - t1 * s2)
    c2 = s0 * (s2 * t2 - t1 * s3) - s1 * (s1 * t2 - t1 * s2) + t0 * m13
    with np.errstate(all="ignore"):
        vertex = -c1 / (2.0 * c2)
        valid = (c2 * det < 0) & np.isfinite(vertex) & (det != 0)
    return vertex, valid


def _log_moments(y: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Weights y² and weighted ln y for the log-parabola (Guo 2011); y ≤ 0 gets zero weight."""
    yp = np.maximum(y, np.float32(0.0))
    w = yp * yp
    ly = np.log(np.maximum(yp, np.float32(1e-30)))
    ly *= w
    return w, ly


def _positions(plan: _Plan, resid: NDArray[np.float32], heights: NDArray[np.float32],
               found: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Log-parabola positions of each band on its own signal (residual + its fitted Gaussian).

    ln of a Gaussian is a parabola, so its vertex is the band position wherever the window
    sits; weighting by y² (Guo 2011) keeps the noisy wings from dominating. All bands are done
    at once on fixed windows around the expected positions ((k, m, w) arrays, moments by matrix
    product); rows whose vertex lands more than ``_RECENTRE_NM`` off the window centre are
    refitted on a re-centred window. Clears ``found`` where no valid vertex lies within ±6 nm.
    """
    f32 = np.float32
    m, k = heights.shape
    half = plan.half
    width = 2 * half + 1
    wl_fit = plan.wl_fit
    y = np.empty((k, m, width), f32)
    for j in range(k):  # stacking only; the arithmetic below is over all bands at once
        sl = slice(int(plan.lo_idx[j]), int(plan.lo_idx[j]) + width)
        np.add(resid[:, sl], heights[:, j:j + 1] * plan.profiles[j, sl], out=y[j])
    w, ly = _log_moments(y)
    v, valid = _cramer_vertex(w @ plan.powers, ly @ plan.powers[:, :, :3])  # (k, m)
    vertex = plan.centres[:, None] + plan.scales[:, None] * np.where(valid, v, f32(0.0))
    off = found.T & valid & (np.abs(vertex - plan.centres[:, None]) > _RECENTRE_NM)
    for j, rows in ((j, np.flatnonzero(off[j])) for j in range(k)):
        if rows.size == 0:  # rare: band far from where it is expected
            continue
        start = np.clip(np.searchsorted(wl_fit, vertex[j, rows]) - half, 0,
                        wl_fit.size - width)
        cols = start[:, None] + np.arange(width)[None, :]
        c = wl_fit[start + half]
        u = ((wl_fit[cols] - c[:, None]) / plan.scales[j]).astype(f32)
        wj, lj = _log_moments(resid[rows[:, None], cols]
                              + heights[rows, j:j + 1] * plan.profiles[j][cols])
        u2 = u * u
        s = np.stack([wj.sum(1), (wj * u).sum(1), (wj * u2).sum(1), (wj * u2 * u).sum(1),
                      (wj * u2 * u2).sum(1)], axis=-1)
        tt = np.stack([lj.sum(1), (lj * u).sum(1), (lj * u2).sum(1)], axis=-1)
        v2, ok2 = _cramer_vertex(s, tt)
        vertex[j, rows] = c + plan.scales[j] * np.where(ok2, v2, 0.0)
        valid[j, rows] = ok2
    found &= (valid & (np.abs(vertex - plan.expected[:, None]) <= POSITION_TOLERANCE_NM)).T
    return np.where(found, vertex.T, plan.expected[None, :]).astype(f32)


def _absorbance(t: NDArray[np.float32]) -> NDArray[np.float32]:
    """-log10 of transmission, capped at ±ABSORBANCE_CAP (a new array; NaN stays NaN)."""
    a = np.maximum(t, _TINY)  # ratio ≤ 0 → +cap (np.clip is several times slower)
    np.minimum(a, _HUGE, out=a)
    np.log(a, out=a)  # float32 ln is SIMD-vectorised in numpy, log10 is not (4x)
    a *= _MINUS_LOG10_E
    return a


def _block(plan: _Plan, s: NDArray[np.floating], d: NDArray[np.floating],
           r: NDArray[np.floating], full_scale: float,
           bad_rows: NDArray[np.bool_]) -> dict[str, NDArray[Any]]:
    f32 = np.float32
    m = s.shape[0]
    flags = np.zeros(m, np.uint8)
    flags[bad_rows] |= FLAG_NONFINITE
    with np.errstate(all="ignore"):  # counts beyond float32 become inf: saturated, flagged
        sw = np.asarray(s[:, plan.w_sl], dtype=f32)
        dw = np.asarray(d[:, plan.w_sl], dtype=f32)
        rw = np.asarray(r[:, plan.w_sl], dtype=f32)
        sat = sw.max(axis=1) >= SATURATION_FRACTION * full_scale
        sat |= np.broadcast_to(rw.max(axis=1) >= SATURATION_FRACTION * full_scale, (m,))
        flags[sat] |= FLAG_SATURATED
        den = rw - dw
        dim = ((den < LOW_REFERENCE_FRACTION * full_scale) | np.isnan(den)).mean(axis=1) \
            > LOW_REFERENCE_PIXEL_FRACTION
        # no reference light (≤ 1e-3 counts, also keeps 1/den finite) → capped absorbance
        inv = np.where(den > 1e-3, f32(1.0) / den, f32(0.0))
        t = sw - dw
        t *= inv  # transmission over the whole window
        opaque = t.min(axis=1) < _OPAQUE_T  # cheap pre-test; count where it passes
        if np.any(opaque):
            opaque[opaque] = np.count_nonzero(t[opaque] < _OPAQUE_T, axis=1) \
                >= MAX_RELIABLE_MIN_PIXELS
        # absorbance only where it is used: band pixels, and scatter bins (mean transmission
        # of ~1.2 nm: the log of a mean differs from the mean of logs by ~1e-6 AU here)
        ts = t[:, plan.s_rel.start:plan.s_rel.stop:plan.s_bin].copy()
        for i in range(1, plan.s_bin):
            ts += t[:, plan.s_rel.start + i:plan.s_rel.stop:plan.s_bin]
        ts *= f32(1.0 / plan.s_bin)
        a_f, a_s = (_absorbance(x) for x in (t[:, plan.f_rel], ts))
        p_f, p_s = a_f.shape[1], a_s.shape[1] * plan.s_bin
        offset = (a_f.sum(axis=1) + plan.s_bin * a_s.sum(axis=1)) / (p_f + p_s)
        broken = ~np.isfinite(offset)  # NaN/inf counts, or finite ones beyond float32
        if np.any(broken):  # rare: make those rows finite (capped) so no NaN leaks out
            for x in (a_f, a_s):
                x[broken] = np.nan_to_num(x[broken], nan=ABSORBANCE_CAP,
                                          posinf=ABSORBANCE_CAP, neginf=-ABSORBANCE_CAP)
            flags[broken] |= FLAG_NONFINITE
            offset[broken] = (a_f[broken].sum(axis=1)
                              + plan.s_bin * a_s[broken].sum(axis=1)) / (p_f + p_s)
    flags[np.broadcast_to(dim, (m,)) | opaque] |= FLAG_LOW_SIGNAL

    # scatter baseline and band heights, jointly, on the grid of n
    sa, sb, idx, flat, hts, sigma = _joint_fit(plan, a_f, a_s)
    n = np.where(flat, 0.0, N_GRID[idx])
    at_band = sa + sb * np.where(flat, 1.0, plan.at_band[idx])
    heights = hts.astype(f32)
    h_sd = (sigma[:, None] * plan.unit_sd[np.where(flat, N_GRID.size, idx)]).astype(f32)
    y = a_f - sa.astype(f32)[:, None] - sb.astype(f32)[:, None] * plan.basis_fit[idx]
    resid = y - heights @ plan.profiles
    noise = np.sqrt(np.mean(resid * resid, axis=1))

    # fixed positions and widths leave misfits of ~1 % of the tallest band, which the noise sd
    # does not cover: a band must also clear that to count as found
    floor = _MISFIT_FRACTION * np.maximum(heights.max(axis=1, keepdims=True), 0.0)
    found = (heights > SIGNIFICANCE * h_sd) & (heights > floor)
    positions = _positions(plan, resid, heights, found)

    no_solvent = ~found.any(axis=1) & (np.abs(offset) > NO_SOLVENT_FLAT_OFFSET_AU)
    flags[no_solvent] |= FLAG_NO_SOLVENT
    return {"heights": heights, "height_sd": h_sd, "positions": positions, "found": found,
            "scatter_at_band": at_band.astype(f32), "scatter_n": n.astype(f32),
            "offset": offset, "noise_rms": noise, "flags": flags}


def _rows(values: Any, m: int | None, n: int, what: str) -> NDArray[np.floating]:
    """``values`` as rows of n pixels: (n,) → (1, n); (m, n) accepted when m matches."""
    arr = values if isinstance(values, np.ndarray) else as_float_array(values, what)
    if arr.dtype.kind not in "fiu":
        arr = as_float_array(arr, what)
    if arr.ndim == 1:
        arr = arr[None, :]
    rows_ok = m is None or arr.shape[0] in (1, m)
    if arr.ndim != 2 or arr.shape[1] != n or not rows_ok:
        expected = f"(m, {n})" if m is None else f"({n},) or ({m}, {n})"
        raise SpectrumError(f"shape_mismatch: {what} has shape {arr.shape}; expected {expected}")
    return arr


def analyse_batch(
    wavelengths: Any,
    samples: Any,
    dark: Any,
    reference: Any,
    band_sets: Mapping[str, Sequence[float]],
    *,
    window: Any,
    scatter_window: Any,
    fwhm_nm: float = DEFAULT_FWHM_NM,
    full_scale: float = FULL_SCALE_COUNTS,
) -> BatchAnalysis:
    """Analyse m spectra of counts (m, n) against dark and reference of shape (n,) or (m, n).

    Same settings as ``analyse_sample`` (``scatter_window`` must lie inside ``window`` here);
    all spectra share one axis and one integration time. Raises SpectrumError for shapes that
    do not fit the axis; bad rows (NaN, saturation, no light) are flagged, not raised.
    """
    wl = check_axis(wavelengths)
    win = check_window(window, "window")
    swin = check_window(scatter_window, "scatter_window")
    sets = check_band_sets(band_sets, win)
    expected, set_index = unique_positions(sets)
    if expected.size == 0:
        raise SpectrumError("band_sets names no bands")
    full_scale = check_positive(full_scale, "full_scale")
    fwhm_nm = check_positive(fwhm_nm, "fwhm_nm")
    s = _rows(samples, None, wl.size, "samples")
    m = s.shape[0]
    d = _rows(dark, m, wl.size, "dark")
    r = _rows(reference, m, wl.size, "reference")
    plan = _plan(wl, win, swin, expected, float(fwhm_nm))

    if m == 0:  # analyse one dummy row to get every output's dtype, keep none
        dummy = np.zeros((1, wl.size), np.float32)
        out = _block(plan, dummy, dummy, dummy, full_scale, np.zeros(1, bool))
        out = {key: value[:0] for key, value in out.items()}
    else:
        with np.errstate(all="ignore"):
            shared_bad = (d.shape[0] == 1 and not np.isfinite(d.sum())) or (
                r.shape[0] == 1 and not np.isfinite(r.sum()))

        def run(i0: int) -> dict[str, NDArray[Any]]:
            i1 = min(i0 + BLOCK, m)
            sd = slice(i0, i1) if d.shape[0] > 1 else slice(0, 1)
            sr = slice(i0, i1) if r.shape[0] > 1 else slice(0, 1)
            with np.errstate(all="ignore"):  # a row sum is non-finite iff a count is (or huge)
                bad = ~np.isfinite(s[i0:i1].sum(axis=1)) | shared_bad
                if d.shape[0] > 1:
                    bad |= ~np.isfinite(d[sd].sum(axis=1))
                if r.shape[0] > 1:
                    bad |= ~np.isfinite(r[sr].sum(axis=1))
            return _block(plan, s[i0:i1], d[sd], r[sr], float(full_scale), bad)

        # blocks of spectra keep the working set in cache. (Threads over blocks were tried:
        # slower on 2 cores, where OpenBLAS already threads the matrix products.)
        parts = [run(i0) for i0 in range(0, m, BLOCK)]
        out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}

    names: list[str] = []
    columns: list[int] = []
    expected_cols: list[float] = []
    for name, positions in sets.items():
        for i, p in enumerate(positions):
            names.append(f"{name}[{i}]")
            columns.append(set_index[name][i])
            expected_cols.append(p)
    cols = np.asarray(columns, np.intp)
    return BatchAnalysis(
        band_names=tuple(names), expected_nm=np.asarray(expected_cols, float),
        heights=out["heights"][:, cols], height_sd=out["height_sd"][:, cols],
        positions=out["positions"][:, cols], found=out["found"][:, cols],
        scatter_at_band=out["scatter_at_band"], scatter_n=out["scatter_n"],
        offset=out["offset"], noise_rms=out["noise_rms"], flags=out["flags"])
