"""Gaussian absorption bands fitted jointly at every expected position.

Both phases' band sets are fitted together: their bands overlap (365 and 356 nm are 9 nm apart
for (CdS)34) and a sample may hold both (hexane carrying DMF droplets). Two stages: non-negative
linear least squares for the heights at fixed positions and width (robust, always defined);
then, for the bands whose height is significant, a bounded nonlinear refinement of position,
height and width (the others held fixed so they cannot wander into a neighbour). Why the
refinement is shaped as it is:

- the scatter baseline a + b·(λ/400)^-n is refitted with the bands, on the band region and the
  scatter window together: extrapolated from the scatter window alone, a small error in n
  leaves a few mAU of smooth misfit that a free band fit turns into shifted, swapped bands;
- overlapping bands make the free fit nearly degenerate, so it carries weak priors (position ~
  expected ± 2 nm, FWHM ~ default ± 4 nm) that an isolated band's data outweighs by orders of
  magnitude;
- a broadened single-phase spectrum otherwise settles in a two-phase local minimum, so each
  band set's bands are also refined alone and the model with the lowest BIC wins.

- a cluster's interband continuum rises steeply to the blue of its bands ((CdS)34: below
  ~320 nm) and runs under the bluest bands: when its onsets are given, each is one more column,
  a ramp in photon energy softened over ``CONTINUUM_SOFTNESS_EV`` with a free non-negative
  amplitude, fitted with the bands in both stages (an approximation of the true edge's shape,
  which the fit window keeps short).

Uncertainties come from the Jacobian (data and priors) at the solution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares, nnls

from mscrobot.spectra.scatter import N_MAX, N_MIN, SCATTER_REFERENCE_NM, scatter_value
from mscrobot.spectra.types import FloatArray, ScatterFit

#: Default band FWHM (nm) for the linear stage and the centre of the width prior. assumed: the
#: order of a magic-size cluster's band; the twin's are 11-18 nm (chemistry/optical.py), wider
#: in the polar phase, so the refinement moves off it.
DEFAULT_FWHM_NM = 12.0
#: A band's fitted position may move this far (nm) from where it is expected.
POSITION_TOLERANCE_NM = 6.0
#: Bounds on the fitted FWHM (nm): narrower is noise, wider is no longer one band.
FWHM_BOUNDS_NM = (4.0, 40.0)
#: Prior sd (nm) of a band's position about its expected one, and of its FWHM about the
#: default, in the refinement (assumed: regularisation only, see the module docstring).
POSITION_PRIOR_SD_NM = 2.0
FWHM_PRIOR_SD_NM = 4.0
#: A band is significant (refined; 'found') when its height exceeds this many sd.
SIGNIFICANCE = 3.0
#: Position sd reported for a band that was not refined: a uniform over ±tolerance.
UNREFINED_POSITION_SD_NM = POSITION_TOLERANCE_NM / np.sqrt(3.0)

#: Softness (eV) of the continuum columns' onset: a ramp in photon energy u·ln(1 + e^(ΔE/u)).
#: assumed: the order of an Urbach tail of small II-VI clusters, not tuned to any one spectrum.
CONTINUUM_SOFTNESS_EV = 0.06

_K = 4.0 * np.log(2.0)
_HC_EV_NM = 1239.84198


def continuum_basis(wl: FloatArray, onsets_nm: FloatArray) -> FloatArray:
    """Unit continuum ramps (AU per eV above onset), shape (len(wl), len(onsets_nm))."""
    e = _HC_EV_NM / np.asarray(wl, float)[:, None]
    e0 = _HC_EV_NM / np.asarray(onsets_nm, float)[None, :]
    u = CONTINUUM_SOFTNESS_EV
    return np.asarray(u * np.logaddexp(0.0, (e - e0) / u), float)


def gaussians(wl: FloatArray, positions: FloatArray, fwhm: FloatArray | float) -> FloatArray:
    """Unit-height Gaussian profiles, shape (len(wl), len(positions))."""
    w = np.broadcast_to(np.asarray(fwhm, float), np.shape(positions))
    z = (np.asarray(wl, float)[:, None] - np.asarray(positions, float)[None, :]) / w[None, :]
    return np.asarray(np.exp(-_K * z * z), float)


@dataclass(frozen=True, slots=True)
class BandFit:
    """Per-band results of ``fit_bands`` (arrays over the expected positions) and the baseline
    (a, b, n) it was fitted with (refined jointly with the bands when they were refined)."""

    position: FloatArray
    height: FloatArray
    fwhm: FloatArray
    position_sd: FloatArray
    height_sd: FloatArray
    found: NDArray[np.bool_]
    failed: bool
    baseline: tuple[float, float, float]
    continua: FloatArray = field(default_factory=lambda: np.zeros(0))  # onsets (nm)
    continuum: FloatArray = field(default_factory=lambda: np.zeros(0))  # their amplitudes

    def model(self, wl: FloatArray) -> FloatArray:
        """Summed band and continuum absorbance at ``wl`` (without the baseline)."""
        bands = gaussians(wl, self.position, self.fwhm) @ self.height
        if self.continua.size:
            bands = bands + continuum_basis(wl, self.continua) @ self.continuum
        return np.asarray(bands, float)

    def baseline_at(self, wl: FloatArray) -> FloatArray:
        """The scatter baseline at ``wl``."""
        a, b, n = self.baseline
        return np.asarray(a + b * (np.asarray(wl, float) / SCATTER_REFERENCE_NM) ** (-n), float)


def noise_sd(y: FloatArray) -> float:
    """Pixel noise from first differences (robust MAD): smooth bands barely contribute."""
    d = np.diff(y[np.isfinite(y)])
    if d.size < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def _linear_heights(g: FloatArray, y: FloatArray) -> FloatArray:
    try:
        h, _ = nnls(g, y, maxiter=50 * g.shape[1] + 100)
    except RuntimeError:  # iteration limit: fall back to clipped least squares
        h = np.clip(np.linalg.lstsq(g, y, rcond=None)[0], 0.0, None)
    return np.asarray(h, float)


def _sd_from(jac: FloatArray, variance: float) -> FloatArray:
    cov = np.linalg.pinv(jac.T @ jac) * variance
    return np.asarray(np.sqrt(np.clip(np.diag(cov), 0.0, None)), float)


def fit_bands(
    wl: FloatArray,
    y: FloatArray,
    expected: FloatArray,
    *,
    sigma: float,
    scatter: ScatterFit,
    scatter_wl: FloatArray,
    scatter_y: FloatArray,
    fwhm_nm: float = DEFAULT_FWHM_NM,
    groups: Sequence[Sequence[int]] = (),
    continua: Sequence[float] = (),
) -> BandFit:
    """Fit Gaussian bands at ``expected`` positions to absorbance ``y`` over the band region.

    ``scatter`` is the baseline fitted on the scatter window (``scatter_wl``, ``scatter_y``);
    the linear stage subtracts it, the refinement refits it with the bands (a only when it was
    flat). ``sigma`` is the pixel noise, for the significance of the linear heights; refined
    uncertainties use the residual variance. ``found`` = refined height > 3 sd and position not
    pinned at its ±6 nm bound. ``failed``: the refinement raised or did not converge (the linear
    result is kept).

    ``groups`` (indices into ``expected``, one per band set): when bands of several groups are
    significant, each group's bands alone are refined too, and the model with the lowest BIC
    wins. A broadened or shifted single-phase spectrum otherwise settles in a local minimum
    that explains it as a two-phase mixture; a true mixture keeps both, as one group alone
    cannot fit it.

    ``continua``: onsets (nm) of interband continua under the bands, one free column each.
    """
    k = expected.size
    onsets = np.asarray(continua, float)
    base0 = (scatter.a, scatter.b, scatter.n)
    g = np.hstack([gaussians(wl, expected, fwhm_nm), continuum_basis(wl, onsets)])
    y0 = y - scatter_value(scatter, wl)
    hc = _linear_heights(g, y0)
    resid = y0 - g @ hc
    lin_var = max(sigma**2, float(resid @ resid) / max(y.size - g.shape[1], 1), 1e-300)
    h, c = hc[:k], hc[k:]
    h_sd = _sd_from(g, lin_var)[:k]
    position = expected.astype(float).copy()
    fwhm = np.full(k, float(fwhm_nm))
    pos_sd = np.full(k, UNREFINED_POSITION_SD_NM)
    significant = h > SIGNIFICANCE * np.maximum(h_sd, 1e-300)
    found = np.zeros(k, bool)
    if not np.any(significant):
        return BandFit(position, h, fwhm, pos_sd, h_sd, found, False, base0, onsets, c)

    x_all = np.concatenate([wl, scatter_wl])
    y_all = np.concatenate([y, scatter_y])
    refine = _Refinement(x_all, y_all, expected, h, significant, base0, float(fwhm_nm),
                         np.sqrt(lin_var), onsets, c)
    candidates = [np.flatnonzero(significant)]
    for group in groups:
        alone = np.intersect1d(candidates[0], np.asarray(group, int))
        if 0 < alone.size < candidates[0].size:
            candidates.append(alone)
    noise_var = max(sigma**2, 1e-300)
    best: tuple[float, FloatArray, FloatArray, FloatArray] | None = None
    for free in candidates:
        result = refine(free)
        if result is None:
            continue
        p, sd, residual = result
        bic = float(residual @ residual) / noise_var + p.size * np.log(x_all.size)
        if best is None or bic < best[0]:
            best = (bic, free, p, sd)
    if best is None:
        return BandFit(position, h, fwhm, pos_sd, h_sd, found, True, base0, onsets, c)

    _, sel, p, sd = best
    nband = 3 * sel.size
    dropped = significant.copy()
    dropped[sel] = False
    h[dropped] = 0.0  # significant alone, not needed by the winning model
    position[sel], h[sel], fwhm[sel] = p[0:nband:3], p[1:nband:3], p[2:nband:3]
    pos_sd[sel], h_sd[sel] = sd[0:nband:3], sd[1:nband:3]
    mu = p[0:nband:3]
    pinned = np.abs(np.abs(mu - expected[sel]) - POSITION_TOLERANCE_NM) < 1e-3
    found[sel] = (p[1:nband:3] > SIGNIFICANCE * sd[1:nband:3]) & ~pinned
    baseline = (float(p[nband]), float(p[nband + 1]), float(p[nband + 2])) if \
        refine.free_shape else (float(p[nband]), 0.0, 0.0)
    continuum = p[p.size - onsets.size:] if onsets.size else c
    return BandFit(position, h, fwhm, pos_sd, h_sd, found, False, baseline, onsets,
                   np.asarray(continuum, float))


class _Refinement:
    """Bounded nonlinear fit of chosen bands + baseline + continua; other bands fixed at their
    linear heights (bands left out of a candidate model are fixed at zero)."""

    def __init__(self, x: FloatArray, y: FloatArray, expected: FloatArray, heights: FloatArray,
                 significant: NDArray[np.bool_], base0: tuple[float, float, float],
                 fwhm_nm: float, noise: float, onsets: FloatArray, c0: FloatArray) -> None:
        self.x, self.y, self.expected = x, y, expected
        self.heights, self.significant = heights, significant
        self.base0, self.fwhm_nm, self.noise = base0, fwhm_nm, noise
        self.edges, self.c0 = continuum_basis(x, onsets), np.asarray(c0, float)
        self.ln_x = np.log(x / SCATTER_REFERENCE_NM)
        self.free_shape = base0[1] != 0.0 or base0[2] != 0.0  # a flat baseline refits a only
        fixed = ~significant
        self.fixed = gaussians(x, expected[fixed], fwhm_nm) @ heights[fixed]

    def __call__(self, sel: NDArray[np.intp]) -> tuple[FloatArray, FloatArray, FloatArray] | None:
        """(parameters, their sd, data residual) for bands ``sel`` free, or None on failure."""
        x, ns, fw = self.x, sel.size, self.fwhm_nm
        exp = self.expected[sel]
        nb = 3 if self.free_shape else 1
        edges, nc = self.edges, self.c0.size
        inf = np.inf
        x0 = np.concatenate([np.column_stack([exp, self.heights[sel], np.full(ns, fw)]).ravel(),
                             np.asarray(self.base0[:nb], float), self.c0])
        lo = np.concatenate([np.column_stack([exp - POSITION_TOLERANCE_NM, np.zeros(ns),
                                              np.full(ns, FWHM_BOUNDS_NM[0])]).ravel(),
                             [-inf, -inf, N_MIN][:nb], np.zeros(nc)])
        hi = np.concatenate([np.column_stack([exp + POSITION_TOLERANCE_NM, np.full(ns, inf),
                                              np.full(ns, FWHM_BOUNDS_NM[1])]).ravel(),
                             [inf, inf, N_MAX][:nb], np.full(nc, inf)])
        x0 = np.clip(x0, lo, hi)
        nband = 3 * ns
        # priors as extra residuals in units of the noise: (p - p0) / prior_sd · noise
        prior_cols = np.concatenate([np.arange(0, nband, 3), np.arange(2, nband, 3)])
        prior_scale = self.noise * np.concatenate([np.full(ns, 1.0 / POSITION_PRIOR_SD_NM),
                                                   np.full(ns, 1.0 / FWHM_PRIOR_SD_NM)])
        prior_centre = np.concatenate([exp, np.full(ns, fw)])
        npx = x.size
        target = self.y - self.fixed
        ln_x, free_shape = self.ln_x, self.free_shape

        def parts(p: FloatArray) -> tuple[FloatArray, ...]:
            mu, amp, w = p[0:nband:3], p[1:nband:3], p[2:nband:3]
            z = (x[:, None] - mu[None, :]) / w[None, :]
            power = np.exp(-p[nband + 2] * ln_x) if free_shape else np.ones(npx)
            return mu, amp, w, np.exp(-_K * z * z), power

        def residual(p: FloatArray) -> FloatArray:
            _, amp, _, e, power = parts(p)
            base = p[nband] + (p[nband + 1] * power if free_shape else 0.0)
            if nc:
                base = base + edges @ p[p.size - nc:]
            prior = (p[prior_cols] - prior_centre) * prior_scale
            return np.concatenate([e @ amp + base - target, prior])

        def jacobian(p: FloatArray) -> FloatArray:
            mu, amp, w, e, power = parts(p)
            dx = x[:, None] - mu[None, :]
            jac = np.zeros((npx + prior_cols.size, p.size))
            jac[:npx, 0:nband:3] = e * amp * 2.0 * _K * dx / w**2
            jac[:npx, 1:nband:3] = e
            jac[:npx, 2:nband:3] = e * amp * 2.0 * _K * dx**2 / w**3
            jac[:npx, nband] = 1.0
            if free_shape:
                jac[:npx, nband + 1] = power
                jac[:npx, nband + 2] = -p[nband + 1] * ln_x * power
            if nc:
                jac[:npx, p.size - nc:] = edges
            jac[npx + np.arange(prior_cols.size), prior_cols] = prior_scale
            return jac

        try:
            with np.errstate(all="ignore"):
                # exact (dense SVD): 3x faster per sample than lsmr here, provided OpenBLAS runs
                # single-threaded on these small matrices (tests and benchmarks set
                # OPENBLAS_NUM_THREADS=1; multi-threaded it is ~1.5x slower, still ahead)
                res = least_squares(residual, x0, jac=jacobian, bounds=(lo, hi), x_scale="jac",
                                    method="trf", tr_solver="exact", max_nfev=200)
        except (ValueError, np.linalg.LinAlgError):
            return None
        # status 0 = evaluation cap reached: in the flat valleys of overlapping bands the
        # steps creep on long after the cost has settled, so the best point so far is kept
        if res.status < 0 or not np.all(np.isfinite(res.x)):
            return None
        data = res.fun[:npx]
        var = max(float(data @ data) / max(npx - res.x.size, 1), 1e-300)
        return res.x, _sd_from(jacobian(res.x), var), data
