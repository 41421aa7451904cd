"""Stir positions that share one speed: equal stir rates stir together, different ones take
turns, and every vial's verdicts stay those of its recipe run alone."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from mscrobot.campaign.conductor import Conductor
from mscrobot.campaign.jobs import memory_job, run_alone
from mscrobot.lab.config import load_lab
from mscrobot.recipe.loader import load_recipe
from mscrobot.recipe.models import Recipe

ROOT = Path(__file__).resolve().parents[2]


def _at(recipe: Recipe, rpm: str) -> Recipe:
    data = recipe.model_dump(mode="json")
    data["exchange"]["stir_rate"] = rpm
    return Recipe.model_validate(data)


def _overlaps(conductor: Conductor) -> list[tuple[str, str]]:
    holds = [iv for iv in conductor.scheduler.intervals if iv.resource == "speed:0"]
    return [(a.what, b.what) for a, b in itertools.combinations(holds, 2)
            if a.run != b.run and a.start < b.end and b.start < a.end]


def _campaign(rpms: list[str]) -> tuple[Conductor, list[Any], list[Recipe], Any]:
    base = load_recipe(ROOT / "recipes" / "cds34-zncl2.yaml").recipe
    lab = load_lab("twin")[0]
    recipes = [_at(base, rpm) for rpm in rpms]
    conductor = Conductor(2, ahead=0, speed_groups=[[0, 1]])
    results = conductor.run([memory_job(r, 5 + i, lab) for i, r in enumerate(recipes)])
    assert [r.error for r in results] == [None] * len(rpms)
    return conductor, results, recipes, lab


def test_equal_stir_rates_stir_together_on_a_shared_speed() -> None:
    conductor, _, _, _ = _campaign(["1000 rpm", "1000 rpm"])
    overlaps = _overlaps(conductor)
    assert overlaps and set(overlaps) == {("1000 rpm", "1000 rpm")}


def test_different_stir_rates_take_turns_and_keep_their_verdicts() -> None:
    conductor, results, recipes, lab = _campaign(["600 rpm", "1000 rpm"])
    assert _overlaps(conductor) == []
    assert any(w.what.startswith("stir") for w in conductor.scheduler.waits)
    for i, (res, recipe) in enumerate(zip(results, recipes, strict=True)):
        alone = run_alone(recipe, 5 + i, lab)
        assert [(v["stage"], v["state"]) for v in res.value.verdicts] == [
            (v["stage"], v["state"]) for v in alone.verdicts], f"run {i}"
