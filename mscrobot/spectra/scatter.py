"""Scatter baseline a + b·(λ/400 nm)^-n, fitted where the clusters do not absorb.

Droplet emulsions scatter nearly flat (n ≈ 0), small aggregates like Rayleigh (n ≈ 4), so n is
free in [0.1, 6] (n = 0 is the flat model). For fixed n the model is linear in (a, b), so the
fit profiles n: closed-form least squares for (a, b) on a grid of n, then a bounded 1-D
refinement. The batch path (``batch.py``) uses the same profile, jointly with the bands, as one
matrix product.

With a free offset, n is set only by the curvature of the baseline; when the sloped model does
not beat a constant by ``FLAT_DELTA_CHI2`` noise variances, the baseline is reported flat
(n = 0, b = 0) instead of an arbitrary n.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from mscrobot.spectra.types import FloatArray, ScatterFit

#: λ is scaled by this (nm) so a and b are absorbances at 400 nm.
SCATTER_REFERENCE_NM = 400.0
#: Range of the exponent n of a sloped baseline (Rayleigh is 4; 6 leaves room for steep
#: small-particle scatter). Below N_MIN a + b·x^-n degenerates into a + c·ln x with a and b huge
#: and opposite: n is kept ≥ N_MIN so a and b stay readable (n = 0 is the flat model).
N_MIN = 0.1
N_MAX = 6.0
#: Grid of n for the profile (n = 0 is the flat model, handled separately: b and a degenerate).
#: Step 0.2: (a, b) refit at each n absorb most of a 0.1 error in n; single spectra refine n.
N_GRID_STEP = 0.2
N_GRID: FloatArray = np.round(np.arange(N_GRID_STEP, N_MAX + 1e-9, N_GRID_STEP), 10)
#: A sloped baseline must lower the residual sum of squares by this many noise variances.
FLAT_DELTA_CHI2 = 16.0


def scatter_basis(wl: FloatArray, n: FloatArray | float) -> FloatArray:
    """(λ/400)^-n for each n (rows) and λ (columns); n scalar gives one row."""
    x = np.asarray(wl, float) / SCATTER_REFERENCE_NM
    return np.asarray(x[None, :] ** (-np.atleast_1d(np.asarray(n, float))[:, None]), float)


def _profile(f: FloatArray, y: FloatArray) -> tuple[float, float, float]:
    """(a, b, rss) of y ≈ a + b·f by closed-form least squares."""
    fc = f - f.mean()
    var = float(fc @ fc)
    yc = y - y.mean()
    b = float(fc @ yc) / var if var > 0 else 0.0
    a = float(y.mean() - b * f.mean())
    r = y - a - b * f
    return a, b, float(r @ r)


def fit_scatter(wl: FloatArray, absorbance: FloatArray, at_nm: float) -> ScatterFit:
    """Fit a + b·(λ/400)^-n, n ∈ [0.1, 6] or flat, to one spectrum's scatter-window pixels.

    Non-finite pixels are ignored; with fewer than 4 usable pixels the fit is flat at their
    mean (or zero). ``at_nm`` is where ``at_band`` is evaluated (the first band).
    """
    ok = np.isfinite(absorbance)
    x, y = np.asarray(wl, float)[ok], np.asarray(absorbance, float)[ok]
    if y.size < 4:
        mean = float(np.mean(y)) if y.size else 0.0
        return ScatterFit(mean, 0.0, 0.0, mean, 0.0)
    sst = float(np.sum((y - y.mean()) ** 2))
    basis = scatter_basis(x, N_GRID)
    fc = basis - basis.mean(axis=1, keepdims=True)
    cov = fc @ (y - y.mean())
    rss_grid = sst - cov**2 / np.einsum("ij,ij->i", fc, fc)
    i = int(np.argmin(rss_grid))
    lo, hi = max(N_GRID[i] - N_GRID_STEP, N_MIN), min(N_GRID[i] + N_GRID_STEP, N_MAX)
    res = minimize_scalar(lambda n: _profile(scatter_basis(x, n)[0], y)[2], bounds=(lo, hi),
                          method="bounded", options={"xatol": 1e-3})
    n = float(res.x) if res.success and res.fun <= rss_grid[i] else float(N_GRID[i])
    a, b, rss = _profile(scatter_basis(x, n)[0], y)
    noise_var = max(rss / max(y.size - 3, 1), 1e-300)
    if sst - rss < FLAT_DELTA_CHI2 * noise_var:
        a, b, n, rss = float(y.mean()), 0.0, 0.0, sst
    at_band = a + b * (at_nm / SCATTER_REFERENCE_NM) ** (-n)
    return ScatterFit(a, b, n, float(at_band), float(np.sqrt(rss / y.size)))


def scatter_value(fit: ScatterFit, wl: FloatArray) -> FloatArray:
    """The fitted baseline at ``wl`` (extrapolated outside the scatter window)."""
    return np.asarray(fit.a + fit.b * (np.asarray(wl, float) / SCATTER_REFERENCE_NM)
                      ** (-fit.n), float)
