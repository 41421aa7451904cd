"""Turn a measurement into a ``SampleAnalysis`` with the windows the recipe's cluster needs.

Shared by the plan (engine and dry runs) and the twin's monitoring loop, so both read spectra
the same way: both band sets fitted in a window around them, the scatter baseline fitted to the
red of every band, and the solvent's UV edge located for the identity check. Each set's clusters
bring their interband continuum, which rises steeply to the blue of the bands ((CdS)34: below
~320 nm): it is fitted under the bands from the onset the knowledge base gives for the material
(moved with the recipe's bands by the same photon energy), and the band fit starts just to the
red of the alkane phase's onset, where an approximate continuum shape still suffices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mscrobot.chemistry import CLUSTERS, SOLVENTS, shifted_by_energy
from mscrobot.chemistry.optical import SHAPES
from mscrobot.recipe.models import Recipe
from mscrobot.spectra import analyse_sample
from mscrobot.spectra.types import SampleAnalysis, Spectrum


@dataclass(frozen=True)
class AnalysisWindows:
    band_sets: dict[str, list[float]]
    window: tuple[float, float]
    scatter_window: tuple[float, float]
    cutoffs: dict[str, float | None]  # UV cutoff of each phase's solvent
    #: onset (nm) of each set's interband continuum, fitted under its bands
    continua: dict[str, float] = field(default_factory=dict)
    #: the band fit starts here (nm): to the red of where the continuum grows steep
    fit_from_nm: float | None = None


#: The band fit starts this far (nm) to the red of the reddest continuum onset (assumed: at
#: the onset the fitted ramp still follows the edge; to the blue of it the edge's true shape
#: matters more than the bands).
FIT_FROM_ONSET_NM = 2.0


def analysis_windows(recipe: Recipe) -> AnalysisWindows:
    """Band sets and fitting windows for the recipe's cluster (CdS34: 300–410, 430–600 nm)."""
    bands = recipe.monitoring.bands
    assert bands is not None
    sets = {"nonpolar": [float(b.m_as("nm")) for b in bands.nonpolar],
            "polar": [float(b.m_as("nm")) for b in bands.polar]}
    everything = [x for v in sets.values() for x in v]
    cutoffs = {"nonpolar": SOLVENTS[recipe.cluster.solvent].uv_cutoff_nm.value,
               "polar": SOLVENTS[recipe.salt.solvent].uv_cutoff_nm.value}
    key = f"{recipe.cluster.material}{recipe.cluster.size}"
    onset = SHAPES[key].continuum_onset_nm.value
    known_first = CLUSTERS[key].bands_nonpolar[0].value
    continua = {name: shifted_by_energy(known_first, v[0], onset) for name, v in sets.items()
                if v}
    window = (min(everything) - 30.0, max(everything) + 45.0)
    fit_from = max(continua.values()) + FIT_FROM_ONSET_NM if continua else None
    return AnalysisWindows(sets, window, (max(everything) + 65.0, max(everything) + 235.0),
                           cutoffs, continua, fit_from)


def read_sample(windows: AnalysisWindows, phase: str, sample: Spectrum, dark: Spectrum,
                reference: Spectrum) -> SampleAnalysis:
    """Analyse one phase's sample against its dark and reference reads."""
    cutoff = windows.cutoffs[phase]
    edge = None
    if cutoff is not None:
        lo = max(cutoff + 2.0, float(sample.wavelengths_nm[0]) + 1.0)
        edge = (lo, lo + 6.0)
    return analyse_sample(sample, dark, reference, windows.band_sets, window=windows.window,
                          scatter_window=windows.scatter_window, solvent_edge=edge,
                          continua=windows.continua, fit_from_nm=windows.fit_from_nm)
