from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mscrobot.lab.config import load_lab
from mscrobot.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def reference() -> tuple[Any, Any]:
    """The reference recipe and the twin lab."""
    return load_recipe(ROOT / "recipes" / "cds34-zncl2.yaml").recipe, load_lab("twin")[0]
