"""Decisions accept any numbers: non-finite or absurd analyses are refused, never a crash and
never a silent `complete`."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from mscrobot.decide.observations import DecisionSettings, Observation, Stage
from mscrobot.decide.rules import judge_forward_all
from mscrobot.decide.verdicts import State
from mscrobot.recipe import load_recipe
from mscrobot.spectra.types import BandEstimate, SampleAnalysis, ScatterFit

SETTINGS = DecisionSettings.from_recipe(load_recipe("recipes/cds34-zncl2.yaml").recipe)
ANY = st.floats(allow_nan=True, allow_infinity=True, width=32)


@st.composite
def analyses(draw: st.DrawFn) -> SampleAnalysis:
    def band(expected: float) -> BandEstimate:
        return BandEstimate(expected, draw(ANY), draw(ANY), draw(ANY), draw(ANY), draw(ANY),
                            draw(st.booleans()))

    sets = {"nonpolar": (band(365.0), band(335.0)), "polar": (band(356.0), band(327.4))}
    flags = frozenset(draw(st.lists(st.sampled_from(["saturated", "no_solvent", "fit_failed"]),
                                    max_size=2)))
    return SampleAnalysis(sets, ScatterFit(*(draw(ANY) for _ in range(5))), draw(ANY),
                          draw(ANY), draw(ANY), draw(st.one_of(st.none(), ANY)), draw(ANY), flags)


def _finite(a: SampleAnalysis) -> bool:
    values = [a.scatter.at_band, a.red_tail, a.extra_band_height, a.offset]
    values += [x for bands in a.sets.values() for b in bands
               for x in (b.height, b.height_sd, b.fwhm_nm, b.position_nm)]
    return all(math.isfinite(v) for v in values)


#: each example draws ~100 numbers: 400 in CI keep it under a minute; a local run takes its
#: profile's 100 (tests/conftest.py), as every other property does
@settings(max_examples=min(400, settings.default.max_examples))
@given(st.lists(st.tuples(analyses(), analyses(), ANY, ANY), min_size=1, max_size=6))
def test_any_analysis_gives_a_verdict_and_never_a_complete_from_garbage(
        samples: list[tuple[SampleAnalysis, SampleAnalysis, float, float]]) -> None:
    history = [Observation(Stage.FORWARD, 60.0 * i, 120.0 * i, {"nonpolar": h, "polar": d},
                           {"nonpolar": vh, "polar": vd})
               for i, (h, d, vh, vd) in enumerate(samples)]
    verdicts = judge_forward_all(history, SETTINGS)
    assert len(verdicts) == len(history)
    for obs, verdict in zip(history, verdicts, strict=True):
        if verdict.state == State.COMPLETE:
            assert all(_finite(a) for a in obs.samples.values() if a is not None)
            assert all(math.isfinite(v) for v in verdict.numbers.values())
            assert all(math.isfinite(v) and v > 0 for v in obs.volumes_ul.values())
