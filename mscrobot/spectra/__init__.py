"""Spectra analysis: detector counts → absorbance → bands, scatter and flags (pure functions).

``analyse_sample`` answers, for one read, what the decision logic asks: how much of each band
set is there and where, how much scatter, anything unexplained (red tail, new band), and
whether the read can be trusted at all (flags); it is the one analysis the engine's path runs
(the vectorised re-implementation once here lives beside its benchmark,
``benchmarks/batch_analysis.py``). Input that cannot be analysed raises ``SpectrumError``;
input that can be analysed but not trusted comes back flagged.
"""

from mscrobot.spectra.correction import ABSORBANCE_CAP, to_absorbance
from mscrobot.spectra.inputs import SpectrumError
from mscrobot.spectra.sample import analyse_sample
from mscrobot.spectra.types import (
    FULL_SCALE_COUNTS,
    BandEstimate,
    FloatArray,
    SampleAnalysis,
    ScatterFit,
    Spectrum,
)

__all__ = [
    "ABSORBANCE_CAP",
    "FULL_SCALE_COUNTS",
    "BandEstimate",
    "FloatArray",
    "SampleAnalysis",
    "ScatterFit",
    "Spectrum",
    "SpectrumError",
    "analyse_sample",
    "to_absorbance",
]
