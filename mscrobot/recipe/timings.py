"""A recipe's durations in seconds, converted from its quantities in one place.

The plan, the decisions, the plan view, the protocol export and the recipe checks all count
time in plain seconds; each reads them from here, so a change of unit handling (or a new
duration) happens once.
"""

from __future__ import annotations

from dataclasses import dataclass

from mscrobot.recipe.models import Extend, Recipe


@dataclass(frozen=True)
class Timings:
    """Every duration a recipe sets, in seconds."""

    sampling_interval_s: float
    settle_s: float
    max_stir_s: float
    #: the stall policy's extend rungs, each (seconds, times)
    extends: tuple[tuple[float, int], ...]
    back_stir_s: float
    back_settle_s: float
    back_max_s: float

    @property
    def max_forward_stir_s(self) -> float:
        """Stirring of the forward exchange with every extend rung used."""
        return self.max_stir_s + sum(by * times for by, times in self.extends)


def timings(recipe: Recipe) -> Timings:
    ex, be = recipe.exchange, recipe.back_exchange
    return Timings(
        sampling_interval_s=float(ex.sampling_interval.m_as("s")),
        settle_s=float(ex.settle_time.m_as("s")),
        max_stir_s=float(ex.max_time.m_as("s")),
        extends=tuple((float(a.by.m_as("s")), a.times) for a in recipe.on_stall
                      if isinstance(a, Extend)),
        back_stir_s=float(be.stir_time.m_as("s")),
        back_settle_s=float(be.settle_time.m_as("s")),
        back_max_s=float(be.max_time.m_as("s")),
    )
