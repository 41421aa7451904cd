"""Turn a measurement into a ``SampleAnalysis`` with the windows the recipe's cluster needs.

Shared by the plan (engine and dry runs) and the twin's monitoring loop, so both read spectra
the same way: both band sets fitted in a window around them, the scatter baseline fitted to the
red of every band, and the solvent's UV edge located for the identity check.
"""

from __future__ import annotations

from dataclasses import dataclass

from mscrobot.chemistry import SOLVENTS
from mscrobot.recipe.models import Recipe
from mscrobot.spectra import analyse_sample
from mscrobot.spectra.types import SampleAnalysis, Spectrum


@dataclass(frozen=True)
class AnalysisWindows:
    band_sets: dict[str, list[float]]
    window: tuple[float, float]
    scatter_window: tuple[float, float]
    cutoffs: dict[str, float | None]  # UV cutoff of each phase's solvent


def analysis_windows(recipe: Recipe) -> AnalysisWindows:
    """Band sets and fitting windows for the recipe's cluster (CdS34: 300–410, 430–600 nm)."""
    bands = recipe.monitoring.bands
    assert bands is not None
    sets = {"nonpolar": [float(b.m_as("nm")) for b in bands.nonpolar],
            "polar": [float(b.m_as("nm")) for b in bands.polar]}
    everything = [x for v in sets.values() for x in v]
    cutoffs = {"nonpolar": SOLVENTS[recipe.cluster.solvent].uv_cutoff_nm.value,
               "polar": SOLVENTS[recipe.salt.solvent].uv_cutoff_nm.value}
    return AnalysisWindows(sets, (min(everything) - 30.0, max(everything) + 45.0),
                           (max(everything) + 65.0, max(everything) + 235.0), cutoffs)


def read_sample(windows: AnalysisWindows, phase: str, sample: Spectrum, dark: Spectrum,
                reference: Spectrum) -> SampleAnalysis:
    """Analyse one phase's sample against its dark and reference reads."""
    cutoff = windows.cutoffs[phase]
    edge = None
    if cutoff is not None:
        lo = max(cutoff + 2.0, float(sample.wavelengths_nm[0]) + 1.0)
        edge = (lo, lo + 6.0)
    return analyse_sample(sample, dark, reference, windows.band_sets, window=windows.window,
                          scatter_window=windows.scatter_window, solvent_edge=edge)
