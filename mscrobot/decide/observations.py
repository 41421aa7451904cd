"""What the decision logic is given: analysed samples, tracked volumes, what was done so far.

The engine builds one ``Observation`` per monitoring sample (both phases measured) and keeps the
list; the rules are pure functions of that list, so a resumed run re-derives the same verdicts
from its journal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from mscrobot.recipe.models import AddSalt, Extend, Recipe, Stop
from mscrobot.recipe.timings import timings
from mscrobot.spectra.types import SampleAnalysis

#: Sample flags that make a measurement unusable: it is refused, never read as progress.
REFUSING_FLAGS = frozenset({"nonfinite", "shape_mismatch", "saturated", "low_signal",
                            "no_solvent"})


class Stage(StrEnum):
    FORWARD = "forward"
    BACK = "back"


@dataclass(frozen=True)
class Observation:
    """One monitoring sample: both phases as analysed, with the volumes the engine tracks.

    ``volumes_ul`` are the tracked phase volumes after this observation's samples were drawn;
    ``removed_ul`` the volume each of its samples took (the clusters in it leave the vial).
    ``stirred_s`` is the stirring time of the stage so far; ``actions_taken`` lists the policy
    actions already carried out in this stage ('extend', 'add_salt'), so the next stall goes one
    rung further up the recipe's ladder.
    """

    stage: Stage
    time_s: float
    stirred_s: float
    samples: Mapping[str, SampleAnalysis | None]
    volumes_ul: Mapping[str, float]
    actions_taken: tuple[str, ...] = ()
    removed_ul: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DecisionSettings:
    """Recipe numbers the rules use (DESIGN.md §4), in plain floats."""

    n_confirm: int
    complete_fraction: float
    mass_balance_tolerance: float
    scatter_limit: float
    stall_change: float
    stall_samples: int
    degraded_broadening: float
    degraded_loss: float
    band_tolerance_nm: float
    max_stir_s: float
    sampling_interval_s: float
    ladder: tuple[tuple[str, int, float], ...]  # (action, times, seconds or uL)
    back_n_confirm: int = 2
    back_position_tolerance_nm: float = 3.0
    back_min_recovery: float = 0.8
    back_max_stir_s: float = 600.0
    identity_fraction: float = 0.03
    new_band_fraction: float = 0.04
    red_tail_fraction: float = 0.025
    max_resettles: int = 4

    @classmethod
    def from_recipe(cls, recipe: Recipe) -> DecisionSettings:
        th, mon = recipe.monitoring.thresholds, recipe.monitoring
        ladder: list[tuple[str, int, float]] = []
        for step in recipe.on_stall:
            if isinstance(step, Extend):
                ladder.append(("extend", step.times, float(step.by.m_as("s"))))
            elif isinstance(step, AddSalt):
                ladder.append(("add_salt", step.times, float(step.volume.m_as("uL"))))
            elif isinstance(step, Stop):
                ladder.append(("stop", 1, 0.0))
        be, tm = recipe.back_exchange, timings(recipe)
        return cls(
            n_confirm=mon.n_confirm,
            complete_fraction=th.complete_fraction,
            mass_balance_tolerance=th.mass_balance_tolerance,
            scatter_limit=th.scatter_limit,
            stall_change=th.stall_change,
            stall_samples=th.stall_samples,
            degraded_broadening=th.degraded_broadening,
            degraded_loss=th.degraded_loss,
            band_tolerance_nm=float(th.band_tolerance.m_as("nm")),
            max_stir_s=tm.max_stir_s,
            sampling_interval_s=tm.sampling_interval_s,
            ladder=tuple(ladder),
            back_n_confirm=be.confirm.n_confirm,
            back_position_tolerance_nm=float(be.confirm.position_tolerance.m_as("nm")),
            back_min_recovery=be.confirm.min_recovery,
            back_max_stir_s=tm.back_max_s,
        )


def refusal(sample: SampleAnalysis | None) -> str | None:
    """Why a sample cannot be read at all, or None when it can."""
    if sample is None:
        return "no sample"
    bad = sorted(sample.flags & REFUSING_FLAGS)
    if bad:
        return ", ".join(bad)
    numbers = [sample.scatter.at_band, sample.red_tail, sample.extra_band_height, sample.offset]
    for bands in sample.sets.values():
        numbers.extend(x for b in bands for x in (b.height, b.height_sd, b.fwhm_nm,
                                                   b.position_nm))
    if not all(math.isfinite(x) for x in numbers) or set(sample.sets) != {"nonpolar", "polar"}:
        return "unreadable analysis (non-finite numbers or missing band sets)"
    return None
