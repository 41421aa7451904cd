"""The recipe's JSON Schema, for editors (YAML language server) and other tools."""

from __future__ import annotations

import json
from typing import Any

from mscrobot.recipe.models import Recipe

SCHEMA_ID = "https://mscrobot.invalid/schema/recipe-1.json"


def recipe_schema() -> dict[str, Any]:
    schema = Recipe.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            **schema}


def recipe_schema_text() -> str:
    return json.dumps(recipe_schema(), indent=2, ensure_ascii=False) + "\n"
