"""Recipes chemists write: models, units, YAML with line numbers, checks, schema, templates."""

from mscrobot.recipe.checks import Finding, check_recipe
from mscrobot.recipe.loader import (
    LoadedRecipe,
    RecipeError,
    dump_recipe,
    load_recipe,
    load_recipe_text,
)
from mscrobot.recipe.models import Recipe

__all__ = [
    "Finding",
    "LoadedRecipe",
    "Recipe",
    "RecipeError",
    "check_recipe",
    "dump_recipe",
    "load_recipe",
    "load_recipe_text",
]
