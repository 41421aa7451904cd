"""The recipe editor's checks: the same loader, messages and lines as ``mscrobot recipe check``
(no lab), plus the amounts the recipe makes, for the page to show beside the text."""

from __future__ import annotations

from typing import Any

#: The largest recipe the editor checks (a recipe is a page of YAML).
MAX_TEXT = 256 * 1024


def check_text(text: str, source: str = "<editor>") -> dict[str, Any]:
    """``recipe check`` of ``text``: valid or not, each problem with its line, column, field,
    severity and the CLI's one-line message; and the amounts when the recipe is valid."""
    from mscrobot.recipe import RecipeError
    from mscrobot.recipe.amounts import amounts, describe
    from mscrobot.recipe.loader import load_recipe_text

    if len(text.encode("utf-8")) > MAX_TEXT:
        return {
            "valid": False,
            "problems": [
                {
                    "line": 1,
                    "column": 1,
                    "field": "",
                    "severity": "error",
                    "text": f"{source}: more than {MAX_TEXT // 1024} KiB: not a recipe",
                }
            ],
            "amounts": [],
        }
    try:
        loaded = load_recipe_text(text, source)
    except RecipeError as exc:
        return {"valid": False, "problems": [_problem(p) for p in exc.problems], "amounts": []}
    try:
        lines = describe(amounts(loaded.recipe))
    except (ValueError, KeyError) as exc:
        lines = [f"amounts cannot be worked out: {exc}"]
    return {
        "valid": True,
        "problems": [_problem(p) for p in loaded.warnings],
        "amounts": lines,
        "name": loaded.recipe.name,
    }


def _problem(p: Any) -> dict[str, Any]:
    d = p.as_dict()
    return {
        "line": d.get("line"),
        "column": d.get("column"),
        "field": d.get("field"),
        "severity": d.get("severity", "error"),
        "text": str(p),
    }


def template() -> str:
    """The text ``mscrobot recipe new`` prints, to start from."""
    from mscrobot.recipe.template import recipe_template

    return recipe_template()
