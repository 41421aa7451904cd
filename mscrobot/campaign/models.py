"""The campaign file: which recipes to run (listed, or a grid over recipe fields), seeds, lab.

Pure data, validated like a recipe (unknown keys are errors, so every mistake names its line).
Recipe-level checks of each grid point happen in ``loader``, where the campaign file's marks are
known.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool, StrictInt, ValidationInfo, field_validator, model_validator

from mscrobot.campaign.scheduler import AHEAD
from mscrobot.strictmodel import StrictModel

CAMPAIGN_VERSION = 1
#: A grid axis that is not a recipe field: metal equivalents per cluster, set through
#: ``salt.concentration`` (the cluster amount and salt volume stay as the base recipe has them).
EQUIVALENTS = "equivalents"


class Resources(StrictModel):
    """The lab's shared resources a campaign is scheduled over."""

    stir_positions: int = Field(4, ge=1, le=64, description="stir positions, each its own "
                                "stirrer and reaction vial")
    robot_arms: int = Field(1, ge=1, le=1, description="liquid-handler arms (one today)")
    spectrometers: int = Field(1, ge=1, le=1, description="spectrometers with their flow "
                               "cell (one today)")
    shared_speed: StrictBool | list[list[StrictInt]] = Field(
        False, description="positions on one device that turns them all at one speed: true (all "
        "of them) or groups of 0-based positions, e.g. [[0, 1], [2, 3]]; vials on one device "
        "never stir at different speeds at once (each position switches on and off alone)")

    @field_validator("shared_speed")
    @classmethod
    def _groups(cls, value: bool | list[list[int]], info: ValidationInfo
                ) -> bool | list[list[int]]:
        n = info.data.get("stir_positions")
        if isinstance(value, bool) or n is None:
            return value
        seen: set[int] = set()
        for group in value:
            if not group:
                raise ValueError("a group of positions sharing a speed is empty")
            for k in group:
                if not 0 <= k < n:
                    raise ValueError(f"position {k} is not one of the {n} stir positions "
                                     f"(0 to {n - 1})")
                if k in seen:
                    raise ValueError(f"position {k} is in two groups")
                seen.add(k)
        return value

    def speed_groups(self) -> list[list[int]]:
        """Groups of positions that share one speed (positions in none have their own)."""
        if self.shared_speed is True:
            return [list(range(self.stir_positions))]
        return [list(g) for g in self.shared_speed] if self.shared_speed else []


class Grid(StrictModel):
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


class Campaign(StrictModel):
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
    ahead: int = Field(AHEAD, ge=0, le=8, description="runs let in before a stir position is free "
                       "for them: they read their reference blanks while every position is "
                       "busy, then take the next one that frees (0: a run starts when a "
                       "position is free; its references are never older than its own steps)")

    @model_validator(mode="after")
    def _something_to_run(self) -> Campaign:
        if not self.recipes and self.grid is None:
            raise ValueError("a campaign needs 'recipes' (a list of files), a 'grid', or both")
        return self
