"""A run let in ahead of a free stir position reads its blanks while the others hold every
position, then takes the first position that frees; its verdicts are still its own."""

from __future__ import annotations

from pathlib import Path

from mscrobot.campaign.conductor import Conductor
from mscrobot.campaign.jobs import memory_job, run_alone
from mscrobot.lab.config import load_lab
from mscrobot.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[2]


def test_the_run_ahead_reads_its_references_before_a_position_is_free() -> None:
    recipe = load_recipe(ROOT / "recipes" / "cds34-zncl2.yaml").recipe
    lab = load_lab("twin")[0]
    conductor = Conductor(positions=1, ahead=1)
    first, second = conductor.run([memory_job(recipe, 1, lab), memory_job(recipe, 2, lab)])
    assert first.error is None and second.error is None
    assert first.offset == second.offset == 0.0  # both let in at once: one position, one ahead
    assert (first.position, second.position) == (0, 0)
    assert second.placed == first.end and second.position_wait > 0
    early = [s for s in conductor.steps() if s.run == 1 and s.end <= first.end]
    assert [s.kind for s in early] == ["sample", "reference", "discard"] * 2
    alone = run_alone(recipe, 2, lab)
    assert [(v["stage"], v["state"]) for v in second.value.verdicts] == [
        (v["stage"], v["state"]) for v in alone.verdicts]


def test_with_none_ahead_a_run_starts_when_a_position_frees() -> None:
    recipe = load_recipe(ROOT / "recipes" / "cds34-zncl2.yaml").recipe
    lab = load_lab("twin")[0]
    conductor = Conductor(positions=1, ahead=0)
    first, second = conductor.run([memory_job(recipe, 1, lab), memory_job(recipe, 2, lab)])
    assert second.offset == first.end and second.position_wait == 0.0
    assert second.placed == first.end + 40.0  # its two blanks (20 s samples) came first
