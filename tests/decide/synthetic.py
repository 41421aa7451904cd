"""Hand-made sample analyses for rule tests: exact numbers in, verdicts out."""

from __future__ import annotations

from mscrobot.decide.observations import Observation, Stage
from mscrobot.spectra.types import BandEstimate, SampleAnalysis, ScatterFit

H0 = 0.4
V = 1500.0
POSITIONS = {"nonpolar": (365.0, 335.0), "polar": (356.0, 327.4)}


def band(expected: float, height: float, fwhm: float = 12.0, shift: float = 0.0) -> BandEstimate:
    return BandEstimate(expected, expected + shift, height, fwhm, 0.05, 0.001, height > 0.005)


def analysis(nonpolar: float = 0.0, polar: float = 0.0, *, scatter: float = 0.0,
             flags: frozenset[str] = frozenset(), fwhm: float = 12.0, extra: float = 0.0,
             red_tail: float = 0.0, shift: float = 0.0) -> SampleAnalysis:
    sets = {name: tuple(band(p, h * (1.0 if i == 0 else 0.55), fwhm, shift)
                        for i, p in enumerate(POSITIONS[name]))
            for name, h in (("nonpolar", nonpolar), ("polar", polar))}
    return SampleAnalysis(sets, ScatterFit(0.0, scatter, 0.4, scatter, 0.001), 0.0, 0.001,
                          red_tail, 395.0 if extra else None, extra, flags)


def obs(remaining: float, polar: float, stirred_min: float, *, stage: Stage = Stage.FORWARD,
        actions: tuple[str, ...] = (), v_h: float = V, v_d: float = V,
        hexane: SampleAnalysis | None = None, dmf: SampleAnalysis | None = None
        ) -> Observation:
    """An observation with ``remaining`` of the clusters in the alkane and ``polar`` in DMF."""
    hexane = hexane or analysis(nonpolar=H0 * remaining * V / v_h)
    dmf = dmf or analysis(polar=H0 * polar * V / v_d)
    return Observation(stage, stirred_min * 60 + 60, stirred_min * 60,
                       {"nonpolar": hexane, "polar": dmf},
                       {"nonpolar": v_h, "polar": v_d}, actions)
