"""The campaign file: which recipes to run (listed, or a grid over recipe fields), seeds, lab.

Pure data, validated like a recipe (unknown keys are errors, so every mistake names its line).
Recipe-level checks of each grid point happen in ``loader``, where the campaign file's marks are
known.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from mscrobot.recipe.models import Model

CAMPAIGN_VERSION = 1
#: A grid axis that is not a recipe field: metal equivalents per cluster, set through
#: ``salt.concentration`` (the cluster amount and salt volume stay as the base recipe has them).
EQUIVALENTS = "equivalents"


class Resources(Model):
    """The lab's shared resources a campaign is scheduled over."""

    stir_positions: int = Field(4, ge=1, le=64, description="stir positions, each its own "
                                "stirrer and reaction vial")
    robot_arms: int = Field(1, ge=1, le=1, description="liquid-handler arms (one today)")
    spectrometers: int = Field(1, ge=1, le=1, description="spectrometers with their flow "
                               "cell (one today)")


class Grid(Model):
    """Every combination of the ``vary`` values applied to the ``base`` recipe."""

    base: str = Field(min_length=1, description="recipe file, relative to the campaign file")
    vary: dict[str, list[Any]] = Field(
        min_length=1, description="dotted recipe field (e.g. salt.compound, exchange.stir_rate, "
        "or 'equivalents': metal per cluster, set through salt.concentration) → values")

    @model_validator(mode="after")
    def _values(self) -> Grid:
        for key, values in self.vary.items():
            if not values:
                raise ValueError(f"grid axis {key!r} has no values")
        return self


class Campaign(Model):
    campaign_version: int = Field(CAMPAIGN_VERSION, ge=1, le=CAMPAIGN_VERSION)
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    lab: str = Field("simulated", min_length=1, description="a shipped lab's name or a lab "
                     "file relative to the campaign file (`--lab` overrides)")
    resources: Resources = Field(default_factory=Resources)
    recipes: list[str] = Field(default_factory=list, description="recipe files, relative to "
                               "the campaign file")
    grid: Grid | None = None
    seed: int = Field(0, ge=0, description="run k (0-based, in campaign order) gets seed + k, "
                      "so `mscrobot run RECIPE --seed` reproduces it alone")
    replicates: int = Field(1, ge=1, le=100, description="runs per recipe, each its own seed")

    @model_validator(mode="after")
    def _something_to_run(self) -> Campaign:
        if not self.recipes and self.grid is None:
            raise ValueError("a campaign needs 'recipes' (a list of files), a 'grid', or both")
        return self
