"""Recipe files in, validated recipes (and warnings) out; recipes back out as YAML.

``load_recipe_text`` is pure; ``load_recipe`` reads a file. Both raise ``RecipeError`` (a
``DocumentError``) whose problems name file, line, column and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mscrobot.recipe.checks import check_recipe
from mscrobot.recipe.models import Recipe
from mscrobot.yamldoc import (
    Document,
    DocumentError,
    Problem,
    parse_document,
    read_document,
    validate_document,
)

RecipeError = DocumentError


@dataclass
class LoadedRecipe:
    recipe: Recipe
    source: str
    warnings: list[Problem] = field(default_factory=list)
    #: the text validated: what a run's journal keeps (the file may be a pipe, read once)
    text: str = ""


#: Top-level fields only a campaign file has.
CAMPAIGN_FIELDS = ("campaign_version", "grid", "resources")


def _validate(doc: Document) -> LoadedRecipe:
    data = doc.data if isinstance(doc.data, dict) else {}
    campaign = next((f for f in CAMPAIGN_FIELDS if f in data), None)
    if campaign is not None and "cluster" not in data:
        line, col = doc.key_marks.get((campaign,), (1, 1))
        raise RecipeError([Problem(doc.source, line, col, campaign, "this is a campaign file, "
                                   "not a recipe: `mscrobot campaign FILE` reads it and checks "
                                   "every recipe it makes before anything runs")])
    recipe = validate_document(Recipe, doc)
    findings = check_recipe(recipe)
    problems = [doc.problem(f.loc, f.message, f.severity) for f in findings]
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise RecipeError(problems)
    return LoadedRecipe(recipe, doc.source, problems, doc.text)


def load_recipe_text(text: str | bytes, source: str = "<recipe>") -> LoadedRecipe:
    """Parse and validate recipe text (YAML or JSON)."""
    return _validate(parse_document(text, source))


def load_recipe(path: str | Path) -> LoadedRecipe:
    """Read (once), parse and validate a recipe file."""
    return _validate(read_document(path))


def load_recipe_document(doc: Document) -> LoadedRecipe:
    """Validate a recipe document already read (a campaign also edits its data)."""
    return _validate(doc)


def dump_recipe(recipe: Recipe) -> str:
    """The recipe as YAML, every default written out; loads back to an equal recipe."""
    import yaml

    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=100)
