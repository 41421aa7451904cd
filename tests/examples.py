"""The example recipes in ``recipes/`` (campaign files live there too and are not recipes)."""

from __future__ import annotations

from pathlib import Path

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"


def example_recipes() -> list[Path]:
    return sorted(p for p in RECIPES_DIR.glob("*.yaml") if not p.name.startswith("campaign"))
