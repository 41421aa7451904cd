"""Realistic spectra for the analysis tests, made by the twin's instrument model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from mscrobot.spectra import Spectrum
from mscrobot.spectra.types import FloatArray
from mscrobot.twin import optics

WL = optics.wavelengths(optics.hdx_wavelength_coefficients())
HEXANE = {"nonpolar": [365.0, 335.0], "polar": [356.0, 327.4]}
CDS_BANDS = (365.0, 335.0, 356.0, 327.4)
WINDOW = (300.0, 600.0)
SCATTER_WINDOW = (430.0, 600.0)
DMF_EDGE = (255.0, 265.0)


def blank(solvent: str) -> FloatArray:
    """Absorbance of the reference liquid: DMF cuts off at ~268 nm, hexane below the range."""
    if solvent == "dmf":
        return optics.cutoff_absorbance(WL, 268.0)
    return optics.cutoff_absorbance(WL, 195.0)


def instrument(reference: FloatArray, **changes: object) -> optics.Instrument:
    """The default HDX with integration time set from the reference, as an operator would."""
    base = optics.Instrument()
    base = replace(base, integration_ms=optics.auto_integration_ms(WL, reference, base))
    return replace(base, **changes)  # type: ignore[arg-type]


def cell(
    positions: Sequence[float] = (),
    heights: Sequence[float] = (),
    *,
    fwhm: float = 12.0,
    scatter: tuple[float, float, float] = (0.0, 0.0, 0.0),
    solvent: str = "hexane",
) -> FloatArray:
    """Total absorbance in the flow cell: blank + cluster bands + scatter."""
    a = blank(solvent) + optics.scatter_absorbance(WL, *scatter)
    if len(positions):
        a = a + optics.band_absorbance(WL, list(positions), list(heights), fwhm)
    return np.asarray(a, float)


def read(
    sample_absorbance: FloatArray,
    *,
    solvent: str = "hexane",
    seed: int = 0,
    lamp_drift: float = 1.0,
    **instrument_changes: object,
) -> tuple[Spectrum, Spectrum, Spectrum]:
    """(sample, dark, reference) counts for a cell against its solvent blank."""
    ref = blank(solvent)
    inst = instrument(ref, **instrument_changes)
    return optics.measure(WL, sample_absorbance, ref, inst, np.random.default_rng(seed),
                          lamp_drift=lamp_drift)


def with_counts(spectrum: Spectrum, counts: object) -> Spectrum:
    """The same read with other counts (for malformed input)."""
    return replace(spectrum, counts=counts)
