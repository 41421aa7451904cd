"""Each vial's decisions stay its own: a campaign run against the same recipe and seed alone.

What holds and how exactly (see ``mscrobot/campaign/conductor.py`` for the time model):
- a run no step of which was ever delayed is the solo run exactly: same verdicts, same numbers,
  same times (its own clock starts at 0 when it gets its stir position);
- a run whose steps waited for the robot or the flow cell sampled a vial that had sat longer,
  so its numbers and times differ; on these campaigns the sequence of verdict states, and so
  the final verdicts, are still the solo run's. That is measured here, not assumed: a schedule
  that delays a sample long enough could change a verdict, and this test would say so.
"""

from __future__ import annotations

from typing import Any

from mscrobot.campaign.conductor import Conductor
from mscrobot.campaign.jobs import memory_job, run_alone
from mscrobot.recipe.models import Recipe


def _variant(recipe: Recipe, **changes: Any) -> Recipe:
    data = recipe.model_dump(mode="json")
    for dotted, value in changes.items():
        section, field = dotted.split("__")
        data[section][field] = value
    return Recipe.model_validate(data)


def test_a_run_alone_in_a_campaign_is_the_solo_run_exactly(reference: tuple[Any, Any]) -> None:
    recipe, lab = reference
    conductor = Conductor(1)
    [result] = conductor.run([memory_job(recipe, 3, lab)])
    alone = run_alone(recipe, 3, lab)
    assert result.error is None
    assert conductor.scheduler.waits == []
    assert result.value.verdicts == alone.verdicts
    assert result.value.lab_t == alone.lab_t


def test_parallel_vials_keep_their_own_verdicts(reference: tuple[Any, Any]) -> None:
    recipe, lab = reference
    recipes = [recipe, _variant(recipe, exchange__stir_rate="600 rpm"),
               _variant(recipe, salt__compound="Zn(OTf)2")]
    conductor = Conductor(3)
    results = conductor.run([memory_job(r, 10 + i, lab) for i, r in enumerate(recipes)])
    waited = {w.run for w in conductor.scheduler.waits if w.what != "run"}
    assert waited, "the three vials never competed: this campaign tests nothing"
    for i, (r, res) in enumerate(zip(recipes, results, strict=True)):
        assert res.error is None
        alone = run_alone(r, 10 + i, lab)
        mine = [(v["stage"], v["state"]) for v in res.value.verdicts]
        solo = [(v["stage"], v["state"]) for v in alone.verdicts]
        assert mine == solo, f"run {i}"
        assert (res.value.forward, res.value.back) == (alone.forward, alone.back) == (
            "complete", "complete")
        if i not in waited:
            assert res.value.verdicts == alone.verdicts
        else:
            assert res.value.lab_t >= alone.lab_t
