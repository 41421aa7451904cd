"""The spectrometer as the twin sees it: absorbance in the flow cell → detector counts.

The analysis (``mscrobot.spectra``) must cope with what a real Ocean HDX UV-VIS delivers, not
with clean absorbance, so the twin synthesises raw counts: a D2 + tungsten-halogen lamp, dark
offset with a fixed per-pixel pattern, shot and read noise, stray light (which flattens high
absorbance), 16-bit saturation and lamp drift between reference and sample. Every default is
tagged ``handbook``/``literature`` (published or vendor data) or ``assumed`` (ours, to be
replaced by measurement), as DESIGN.md §3 asks.

Pure: no I/O, no clock; randomness only from the ``numpy.random.Generator`` passed in (the
fixed dark pattern is a deterministic function of ``Instrument.dark_seed``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from mscrobot.spectra.types import FULL_SCALE_COUNTS, FloatArray, Spectrum

#: Pixels of the emulated Ocean HDX detector. assumed: 2068 as the project specifies for the
#: HDX UV-VIS; not checked here against the vendor data sheet.
HDX_PIXELS = 2068

#: Second radiation constant hc/k in nm·K (handbook), for the halogen lamp's Planck curve.
_C2_NM_K = 1.4388e7


def hdx_wavelength_coefficients() -> tuple[float, ...]:
    """Calibration polynomial λ(i) = c0 + c1·i + c2·i² + c3·i³ (nm) of the emulated HDX UV-VIS.

    assumed: a typical factory calibration shape (slightly decreasing dispersion, ≈0.31 → 0.28
    nm/px) spanning ≈200-800 nm over 2068 pixels; the device emulator reports these values.
    """
    return (199.6, 0.3082, -1.1e-5, 1.2e-9)


def wavelengths(coeffs: Sequence[float], n: int = HDX_PIXELS) -> FloatArray:
    """Pixel wavelengths (nm) from calibration coefficients, lowest order first."""
    pixel = np.arange(n, dtype=np.float64)
    return np.asarray(np.polynomial.polynomial.polyval(pixel, np.asarray(coeffs, float)), float)


# ---------------------------------------------------------------------------------------------
# absorbance shapes shared by the twin and the tests


def band_absorbance(
    wl: ArrayLike, positions_nm: ArrayLike, heights: ArrayLike, fwhm_nm: ArrayLike
) -> FloatArray:
    """Sum of Gaussian bands in wavelength (cluster excitonic bands); ``fwhm_nm`` per band or one.

    ``heights`` may carry leading axes (..., k) to make many spectra at once → (..., n).
    """
    x = np.asarray(wl, float)
    pos = np.atleast_1d(np.asarray(positions_nm, float))
    h = np.asarray(heights, float)
    w = np.broadcast_to(np.asarray(fwhm_nm, float), pos.shape)
    if h.shape[-1:] != pos.shape:
        raise ValueError(f"{pos.size} band positions but heights of shape {h.shape}")
    profiles = np.exp(-4.0 * np.log(2.0) * ((x[None, :] - pos[:, None]) / w[:, None]) ** 2)
    return np.asarray(h @ profiles, float)


def scatter_absorbance(wl: ArrayLike, a: ArrayLike, b: ArrayLike, n: ArrayLike) -> FloatArray:
    """Apparent absorbance of scattering: a + b·(λ/400 nm)^-n (n≈0 droplets, ≈4 Rayleigh).

    Parameters may be arrays of shape (m,) to make (m, n_pixels) baselines at once.
    """
    x = np.asarray(wl, float) / 400.0
    a_, b_, n_ = (np.asarray(v, float)[..., None] for v in (a, b, n))
    return np.asarray(a_ + b_ * x ** (-n_), float)


def cutoff_absorbance(
    wl: ArrayLike, cutoff_nm: float, *, width_nm: float = 4.0, max_absorbance: float = 4.0
) -> FloatArray:
    """Solvent UV cutoff as a smooth step: opaque below ``cutoff_nm``, clear above.

    Used for blanks (DMF ~268 nm, handbook) so that an air-filled cell shows up as the missing
    solvent edge.
    """
    x = (np.asarray(wl, float) - cutoff_nm) / width_nm
    return np.asarray(max_absorbance / (1.0 + np.exp(np.clip(x, -50.0, 50.0))), float)


# ---------------------------------------------------------------------------------------------
# instrument


@dataclass(frozen=True)
class Instrument:
    """What turns light into counts; defaults emulate an Ocean HDX with a DH-mini lamp.

    Shot noise is Poisson in photoelectrons, approximated by a normal with variance
    signal/gain in counts²; averaging N scans divides the variance by N.
    """

    #: Counts per ms at the brightest pixel with an empty (A = 0) light path. assumed: sets the
    #: auto integration time near 10 ms, typical for a D2/halogen source through a flow cell.
    lamp_peak_counts_per_ms: float = 5000.0
    #: Tungsten-halogen filament colour temperature (K). handbook: 2800-3100 K for QTH lamps.
    halogen_temperature_k: float = 2900.0
    #: Halogen : D2 balance, as the halogen's share at 700 nm vs D2 at 250 nm. assumed.
    halogen_weight: float = 1.0
    #: Below this the UV throughput collapses (fibre solarisation, D2 window). assumed, 228 nm.
    uv_edge_nm: float = 228.0
    #: Dark offset (counts). assumed: HDX baseline ~1500 counts of 65535.
    dark_offset_counts: float = 1500.0
    #: Fixed-pattern dark non-uniformity (counts rms across pixels). assumed.
    dark_pattern_sd_counts: float = 15.0
    #: Dark current (counts per ms, uncooled CCD at room temperature). assumed.
    dark_current_counts_per_ms: float = 0.2
    #: Seed of the per-pixel fixed pattern: one physical detector, so fixed per instrument.
    dark_seed: int = 0
    #: Read noise (counts rms per scan). assumed: typical of 16-bit CCD spectrometers.
    read_noise_counts: float = 8.0
    #: Photoelectrons per count. assumed: ~2e5 e- full well over 16 bits, giving a shot-noise
    #: SNR of ~440:1 at full scale, the order quoted for compact CCD spectrometers (not checked
    #: against the HDX data sheet).
    gain_electrons_per_count: float = 3.0
    #: Integration time per scan (ms); ``auto_integration_ms`` picks one from the reference.
    integration_ms: float = 10.0
    #: Scans averaged per spectrum. assumed: a usual compromise of speed and noise.
    scans_averaged: int = 4
    #: Fraction of all light on the detector that reaches every pixel as a flat background.
    #: assumed: 0.05 %, the order of stray light quoted for compact spectrometers.
    stray_fraction: float = 5e-4
    #: 16-bit ADC: ``FULL_SCALE_COUNTS`` of the spectra types (the project's fixed contract).
    full_scale: float = FULL_SCALE_COUNTS

    def lamp(self, wl: ArrayLike) -> FloatArray:
        """Counts per ms per pixel through an empty light path: D2 continuum + halogen.

        The D2 continuum peaks near 250 nm and falls to the red; the halogen is a Planck curve
        cut by the detector/grating response above ~760 nm; both weak below ``uv_edge_nm``.
        """
        peak = float(np.max(_lamp_shape(np.linspace(190.0, 1000.0, 1621), self)))
        return np.asarray(self.lamp_peak_counts_per_ms * _lamp_shape(wl, self) / peak, float)

    def dark_pattern(self, n: int) -> FloatArray:
        """The detector's fixed per-pixel dark non-uniformity (counts), same for every read."""
        rng = np.random.default_rng(self.dark_seed)
        return np.asarray(rng.normal(0.0, self.dark_pattern_sd_counts, n), float)


def _lamp_shape(wl: ArrayLike, instrument: Instrument) -> FloatArray:
    """Unnormalised lamp spectrum: UV-edge × D2 continuum + halogen Planck curve × red cut."""
    x = np.asarray(wl, float)
    with np.errstate(over="ignore"):
        uv = 1.0 / (1.0 + np.exp(np.clip(-(x - instrument.uv_edge_nm) / 6.0, -50.0, 50.0)))
        red_cut = 1.0 / (1.0 + np.exp(np.clip((x - 760.0) / 25.0, -50.0, 50.0)))
        t = instrument.halogen_temperature_k
        planck = x**-5.0 / np.expm1(_C2_NM_K / (x * t))
    halogen = planck / (700.0**-5.0 / np.expm1(_C2_NM_K / (700.0 * t)))
    d2 = np.exp(-(x - 250.0) / 80.0)
    return np.asarray(uv * d2 + instrument.halogen_weight * halogen * red_cut, float)


def light_counts(
    wl: ArrayLike,
    absorbance: ArrayLike,
    instrument: Instrument,
    *,
    integration_ms: float | None = None,
    lamp_drift: float = 1.0,
) -> FloatArray:
    """Noise-free photon counts above dark for absorbance (..., n): lamp·t·drift·10^-A + stray.

    Stray light is ``stray_fraction`` of the mean light over all pixels, spread flat: at high
    absorbance it dominates, so measured absorbance saturates (flattens) as in a real cell.
    """
    t = instrument.integration_ms if integration_ms is None else integration_ms
    lamp = instrument.lamp(wl) * t * lamp_drift
    with np.errstate(over="ignore", under="ignore"):
        light = lamp * 10.0 ** (-np.asarray(absorbance, float))
    stray = instrument.stray_fraction * np.mean(light, axis=-1, keepdims=True)
    return np.asarray(light + stray, float)


def read_counts(
    light: ArrayLike,
    instrument: Instrument,
    rng: np.random.Generator,
    *,
    integration_ms: float | None = None,
) -> FloatArray:
    """One averaged detector read for noise-free light counts (..., n): dark + noise, clipped.

    Shot noise of light and dark current, read noise per scan, averaged over scans, quantised
    to the 1/N steps an N-scan average of integer counts has, clipped to [0, full scale].
    """
    t = instrument.integration_ms if integration_ms is None else integration_ms
    signal = np.asarray(light, float)
    n_pixels = signal.shape[-1]
    dark_current = instrument.dark_current_counts_per_ms * t
    mean = instrument.dark_offset_counts + instrument.dark_pattern(n_pixels) + dark_current + signal
    scans = max(int(instrument.scans_averaged), 1)
    variance = (instrument.read_noise_counts**2
                + np.maximum(signal + dark_current, 0.0) / instrument.gain_electrons_per_count)
    counts = mean + rng.standard_normal(signal.shape) * np.sqrt(variance / scans)
    counts = np.round(counts * scans) / scans
    return np.asarray(np.clip(counts, 0.0, instrument.full_scale), float)


def measure(
    wl: ArrayLike,
    sample_absorbance: ArrayLike,
    reference_absorbance: ArrayLike,
    instrument: Instrument,
    rng: np.random.Generator,
    *,
    lamp_drift: float = 1.0,
    meta: Mapping[str, Any] | None = None,
) -> tuple[Spectrum, Spectrum, Spectrum]:
    """Read (sample, dark, reference) spectra for what is in the flow cell.

    ``sample_absorbance`` and ``reference_absorbance`` are the total base-10 absorbance of the
    cell's contents (reference = blank: solvent + salt; sample = the same + clusters + scatter).
    ``lamp_drift`` multiplies the lamp between the reference and the sample read, so a drifted
    lamp shows up as a flat absorbance offset of -log10(drift).
    """
    x = np.asarray(wl, float)
    a_s = np.broadcast_to(np.asarray(sample_absorbance, float), x.shape)
    a_r = np.broadcast_to(np.asarray(reference_absorbance, float), x.shape)
    t = instrument.integration_ms
    base = dict(meta or {})
    zeros = np.zeros_like(x)
    dark = read_counts(zeros, instrument, rng)
    reference = read_counts(light_counts(x, a_r, instrument), instrument, rng)
    sample = read_counts(light_counts(x, a_s, instrument, lamp_drift=lamp_drift), instrument, rng)

    def spectrum(counts: FloatArray, kind: str) -> Spectrum:
        return Spectrum(x.copy(), counts, t, instrument.scans_averaged, instrument.full_scale,
                        {**base, "kind": kind})

    return spectrum(sample, "sample"), spectrum(dark, "dark"), spectrum(reference, "reference")


def auto_integration_ms(
    wl: ArrayLike,
    reference_absorbance: ArrayLike,
    instrument: Instrument,
    target_fraction: float = 0.8,
    *,
    min_ms: float = 0.01,
    max_ms: float = 10_000.0,
) -> float:
    """Integration time putting the reference's brightest pixel at ``target_fraction`` of full
    scale, as an operator (or OceanView's auto-integration) would before taking a reference.

    Rounded down to 0.01 ms and clamped to [min_ms, max_ms] (the HDX accepts ms to seconds).
    """
    light_per_ms = light_counts(wl, reference_absorbance, instrument, integration_ms=1.0)
    peak = float(np.max(light_per_ms)) + instrument.dark_current_counts_per_ms
    room = target_fraction * instrument.full_scale - instrument.dark_offset_counts
    if not np.isfinite(peak) or peak <= 0.0 or room <= 0.0:
        return max_ms if room > 0.0 else min_ms
    t = np.floor(room / peak * 100.0) / 100.0
    return float(np.clip(t, min_ms, max_ms))
