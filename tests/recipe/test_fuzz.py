"""Fuzzing the recipe loader: valid recipes round-trip, and nothing but RecipeError escapes.

Whatever text or bytes a chemist (or a broken editor) hands ``load_recipe_text``, the answer is
a recipe or a ``RecipeError`` whose problems each point at a real line and column with a
message. ``dump_recipe`` writes YAML that loads back to an equal recipe.

Example counts come from the profile in tests/conftest.py ("dev" locally, "ci" with CI=true).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

from mscrobot.recipe import Recipe, RecipeError, dump_recipe, load_recipe_text
from mscrobot.yamldoc import Problem

sys.path.insert(0, str(Path(__file__).parent))
from strategies import (  # noqa: E402
    corrupted_recipe_texts,
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
        assert exc.problems, "RecipeError without problems"
        assert any(p.severity == "error" for p in exc.problems), exc.problems
        for p in exc.problems:
            _check_problem(p)
        event("RecipeError")
        return list(exc.problems)
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

@FUZZ
@given(recipe=valid_recipe_dicts(), serialiser=serialisers())
def test_valid_recipe_round_trips(
    recipe: dict[str, Any], serialiser: tuple[str, Callable[[Any], str]]
) -> None:
    label, serialise = serialiser
    text = serialise(recipe)
    note(f"{label} input:\n{text}")
    try:
        first = load_recipe_text(text, SOURCE)
    except RecipeError as exc:
        event(f"valid_recipe_dicts rejected: {exc.problems[0].path}")
        assume(False)
        raise  # unreachable
    dumped = dump_recipe(first.recipe)
    note(f"dump_recipe:\n{dumped}")
    try:
        second = load_recipe_text(dumped, "dumped.yaml")
    except RecipeError as exc:
        pytest.fail(f"dump_recipe wrote YAML that does not load back:\n{exc}")
    assert second.recipe == first.recipe
    assert dump_recipe(second.recipe) == dumped


# --- nothing but RecipeError escapes ------------------------------------------------------------

@FUZZ
@given(data=st.one_of(yamlish(), recipe_shaped_yamlish()))
def test_arbitrary_data_as_json_or_yaml_never_escapes(data: Any) -> None:
    for text in (json_text(data), yaml_text(data), yaml_text(data, flow=True)):
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
@given(text=st.text())
def test_arbitrary_text_never_escapes(text: str) -> None:
    loads_or_explains(text)


#: YAML's punctuation, so random text often gets past the scanner and into the parser.
YAML_ALPHABET = st.sampled_from(list("ab1.: -[]{},\n\t#&*!|>'\"%@`?~\r") + ["é", "\ufeff"])


@FUZZ
@given(text=st.text(YAML_ALPHABET, max_size=60))
def test_yaml_punctuation_never_escapes(text: str) -> None:
    loads_or_explains(text)


@FUZZ
@given(content=st.binary())
def test_arbitrary_bytes_never_escape(content: bytes) -> None:
    loads_or_explains(content)


@FUZZ
@given(text=corrupted_recipe_texts())
def test_corrupted_recipe_text_never_escapes(text: str) -> None:
    note(text)
    loads_or_explains(text)


# --- problems point inside the input ------------------------------------------------------------

@FUZZ
@given(content=st.one_of(
    corrupted_recipe_texts(),
    mutated_recipe_dicts().map(yaml_text),
    st.text(YAML_ALPHABET, max_size=60),
    st.text(),
    st.binary(),
))
def test_problem_lines_lie_within_the_input(content: str | bytes) -> None:
    note(repr(content))
    problems_within_lines(content)
