"""Fuzzing the recipe loader: valid recipes round-trip, and nothing but RecipeError escapes.

Whatever text or bytes a chemist (or a broken editor) hands ``load_recipe_text``, the answer is
a recipe or a ``RecipeError`` whose problems each point at a real line and column with a
message. ``dump_recipe`` writes YAML that loads back to an equal recipe.

Example counts come from the profile in tests/conftest.py ("dev" locally, "ci" with CI=true).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

from mscrobot.recipe import Recipe, RecipeError, dump_recipe, load_recipe_text
from mscrobot.yamldoc import Problem

sys.path.insert(0, str(Path(__file__).parent))
from strategies import (
    corrupted_recipe_texts,
    extreme_quantity_recipe_dicts,
    json_text,
    mutated_recipe_dicts,
    recipe_shaped_yamlish,
    serialisers,
    valid_recipe_dicts,
    yaml_text,
    yamlish,
)

SOURCE = "fuzz.yaml"
FUZZ = settings(deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- helpers ------------------------------------------------------------------------------------

def _check_problem(p: Problem) -> None:
    assert isinstance(p, Problem), p
    assert p.source == SOURCE, p
    assert isinstance(p.line, int), p
    assert isinstance(p.column, int), p
    assert p.line >= 1, p
    assert p.column >= 1, p
    assert isinstance(p.message, str), p
    assert p.message.strip(), p
    assert p.severity in ("error", "warning"), p


def loads_or_explains(content: str | bytes) -> list[Problem]:
    """Load ``content``; return the problems (warnings if it loaded). Anything but a
    ``RecipeError`` propagates and fails the test."""
    try:
        loaded = load_recipe_text(content, SOURCE)
    except RecipeError as exc:
        error = exc
    else:
        error = None
    if error is not None:
        assert error.problems, "RecipeError without problems"
        assert any(p.severity == "error" for p in error.problems), error.problems
        for p in error.problems:
            _check_problem(p)
        event("RecipeError")
        return list(error.problems)
    assert isinstance(loaded.recipe, Recipe)
    for p in loaded.warnings:
        _check_problem(p)
        assert p.severity == "warning", p
    event("loaded")
    return list(loaded.warnings)


def _line_count(content: str | bytes) -> int:
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    return len(text.splitlines())


def problems_within_lines(content: str | bytes) -> None:
    problems = loads_or_explains(content)
    last = _line_count(content) + 1
    for p in problems:
        assert p.line <= last, f"{p} points past the last line ({last - 1}) of the input"


# --- valid recipes round-trip -------------------------------------------------------------------

def _load_or_none(text: str, source: str) -> tuple[Any, RecipeError | None]:
    try:
        return load_recipe_text(text, source), None
    except RecipeError as exc:
        return None, exc


@FUZZ
@given(recipe=valid_recipe_dicts(), serialiser=serialisers())
def test_valid_recipe_round_trips(
    recipe: dict[str, Any], serialiser: tuple[str, Callable[[Any], str]]
) -> None:
    """Written as YAML or JSON, loaded, dumped and loaded again: the same recipe each time."""
    label, serialise = serialiser
    text = serialise(recipe)
    note(f"{label} input:\n{text}")
    first, error = _load_or_none(text, SOURCE)
    # JSON (YAML's subset, \u-escaped) must mean the same recipe as any other serialisation.
    as_json = json_text(recipe)
    from_json, json_error = _load_or_none(as_json, "recipe.json")
    if (error is None) != (json_error is None):
        pytest.fail(f"{label} text and JSON text of the same dict disagree:\n"
                    f"{label}: {error or 'loads'}\nJSON {as_json}: {json_error or 'loads'}")
    if error is not None:
        event(f"valid_recipe_dicts rejected: {error.problems[0].path}")
        assume(False)
    assert from_json.recipe == first.recipe
    dumped = dump_recipe(first.recipe)
    note(f"dump_recipe:\n{dumped}")
    second, error = _load_or_none(dumped, "dumped.yaml")
    if error is not None:
        pytest.fail(f"dump_recipe wrote YAML that does not load back:\n{error}")
    assert second.recipe == first.recipe
    assert dump_recipe(second.recipe) == dumped


# --- nothing but RecipeError escapes ------------------------------------------------------------

#: How arbitrary data is written out: JSON, block YAML, flow YAML.
DATA_WRITERS = st.sampled_from([json_text, yaml_text, partial(yaml_text, flow=True)])


@FUZZ
@given(data=st.one_of(yamlish(), recipe_shaped_yamlish()), write=DATA_WRITERS)
def test_arbitrary_data_as_json_or_yaml_never_escapes(
    data: Any, write: Callable[[Any], str]
) -> None:
    text = write(data)
    note(text)
    loads_or_explains(text)


@FUZZ
@given(recipe=mutated_recipe_dicts(), serialiser=serialisers())
def test_mutated_recipe_never_escapes(
    recipe: dict[str, Any], serialiser: tuple[str, Callable[[Any], str]]
) -> None:
    label, serialise = serialiser
    text = serialise(recipe)
    note(f"{label}:\n{text}")
    loads_or_explains(text)


@FUZZ
@given(recipe=extreme_quantity_recipe_dicts())
def test_extreme_quantities_never_escape(recipe: dict[str, Any]) -> None:
    text = json_text(recipe)
    note(text)
    loads_or_explains(text)


@FUZZ
@given(text=st.text())
def test_arbitrary_text_never_escapes(text: str) -> None:
    loads_or_explains(text)


#: YAML's punctuation, so random text often gets past the scanner and into the parser.
YAML_ALPHABET = st.sampled_from([*"ab1.: -[]{},\n\t#&*!|>'\"%@`?~\r", "é", "\ufeff"])


@FUZZ
@given(text=st.text(YAML_ALPHABET, max_size=60))
def test_yaml_punctuation_never_escapes(text: str) -> None:
    loads_or_explains(text)


@FUZZ
@given(content=st.binary())
def test_arbitrary_bytes_never_escape(content: bytes) -> None:
    loads_or_explains(content)


# --- problems point inside the input ------------------------------------------------------------

@FUZZ
@given(content=st.one_of(
    corrupted_recipe_texts(),
    st.text(YAML_ALPHABET, max_size=60),
    st.text(),
    st.binary(),
))
def test_problem_lines_lie_within_the_input(content: str | bytes) -> None:
    """Recipe text with a line added, dropped or broken (and raw text or bytes): every problem
    points at a line the input has (or the one just past its end)."""
    note(repr(content))
    problems_within_lines(content)
