"""Where the emulated detector's counts come from: the twin's instrument looking at a cell.

The emulator asks a ``SpectrumSource`` for counts only; what sits in the flow cell is a callable,
so a lab emulation can hand over the simulated world's current cell contents instead of a fixed
blank or cluster solution.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

import numpy as np

from mscrobot.recipe.loader import load_recipe, load_recipe_text
from mscrobot.recipe.models import Recipe
from mscrobot.recipe.template import recipe_template
from mscrobot.spectra.types import FloatArray
from mscrobot.twin.absorbance import SpectralModel
from mscrobot.twin.optics import (
    HDX_PIXELS,
    Instrument,
    hdx_wavelength_coefficients,
    light_counts,
    read_counts,
    wavelengths,
)
from mscrobot.twin.params import TwinParams
from mscrobot.twin.vial import CellContents


@runtime_checkable
class SpectrumSource(Protocol):
    """Raw detector counts (one value per pixel, clipped to full scale) for one acquisition."""

    def counts(self, integration_ms: float, scans: int = 1) -> FloatArray: ...


def blank_cell(phase: str = "nonpolar") -> CellContents:
    """Pure solvent of ``phase`` in the flow cell (what a reference is taken on)."""
    return CellContents(phase, 20.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def cluster_cell(micromolar: float = 20.0, phase: str = "nonpolar") -> CellContents:
    """Intact clusters at ``micromolar`` in the solvent of ``phase`` (hexane for 'nonpolar')."""
    c_np, c_p = (micromolar, 0.0) if phase == "nonpolar" else (0.0, micromolar)
    return CellContents(phase, 20.0, c_np, c_p, 0.0, 0.0, 0.0)


def recipe_or_default(path: str | None) -> Recipe:
    """The recipe at ``path``, or the built-in CdS34/ZnCl2/DMF template (valid as written)."""
    return (load_recipe(path) if path else load_recipe_text(recipe_template())).recipe


class TwinSpectrumSource:
    """Counts from ``mscrobot.twin.optics`` for whatever ``contents()`` says is in the cell.

    The noise-free light per integration time is cached (contents rarely change between reads),
    so a read costs one noise draw: the emulator then keeps pace with 6-10 ms integrations.
    """

    def __init__(self, model: SpectralModel,
                 contents: CellContents | Callable[[], CellContents],
                 instrument: Instrument | None = None, *, seed: int = 0,
                 coefficients: Sequence[float] | None = None, n_pixels: int = HDX_PIXELS) -> None:
        self.model = model
        self.instrument = instrument or Instrument()
        self.wl = wavelengths(coefficients or hdx_wavelength_coefficients(), n_pixels)
        self._contents = contents if callable(contents) else (lambda: contents)
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._cache: tuple[CellContents, Instrument, float, FloatArray] | None = None
        #: lamp shutter: closed, the detector sees only its dark (how a dark is taken)
        self.shutter_closed = False

    @classmethod
    def for_recipe(cls, recipe: Recipe, contents: CellContents | Callable[[], CellContents],
                   **kwargs: object) -> TwinSpectrumSource:
        return cls(SpectralModel.for_recipe(recipe, TwinParams()), contents, **kwargs)  # type: ignore[arg-type]

    def set_model(self, model: SpectralModel) -> None:
        """Another recipe's bands and solvents (the emulated lab sends its run's)."""
        self.model = model
        self._cache = None

    def set_contents(self, contents: CellContents | Callable[[], CellContents]) -> None:
        """Put something else in the cell (tests; a lab emulation passes a callable once)."""
        self._contents = contents if callable(contents) else (lambda: contents)

    def light(self, integration_ms: float) -> FloatArray:
        """Noise-free light counts above dark at ``integration_ms`` for the current contents."""
        if self.shutter_closed:
            return np.zeros_like(self.wl)
        contents, instrument = self._contents(), self.instrument
        key = (contents, instrument, integration_ms)
        cached = self._cache
        if cached is not None and cached[:3] == key:
            return cached[3]
        absorbance = self.model.cell(self.wl, contents)
        light = light_counts(self.wl, absorbance, instrument, integration_ms=integration_ms)
        self._cache = (*key, light)
        return light

    def counts(self, integration_ms: float, scans: int = 1) -> FloatArray:
        instrument = replace(self.instrument, scans_averaged=max(int(scans), 1))
        light = self.light(integration_ms)
        with self._lock:
            return read_counts(light, instrument, self._rng, integration_ms=integration_ms)
