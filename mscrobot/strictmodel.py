"""The strict pydantic base every file a person writes is read into (recipes, labs, stirrer
profiles, campaigns): unknown keys are errors, never silently ignored, and strings are stripped.

It lives apart from any one of those models so a lab config or a campaign can use it without
importing the recipe package's internals.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors; defaults are validated; pint quantities are allowed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              arbitrary_types_allowed=True, validate_default=True)
