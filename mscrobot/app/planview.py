"""What ``mscrobot plan`` shows: the steps, vessels, deck use and a time estimate of a recipe.

The monitoring loop's length depends on what the spectra say, so the steps are those of a dry
run on the twin (seed 0, in memory, nothing written), counted by kind; the upper bound on time
comes from the recipe's own limits (max stirring, every stall-policy rung, back-exchange).
"""

from __future__ import annotations

import math
from typing import Any

from mscrobot.app.drylab import dry_counterpart
from mscrobot.app.dryrun import simulate
from mscrobot.app.feasibility import capacities, check_lab
from mscrobot.engine.events import Event, EventKind
from mscrobot.lab.config import LabConfig
from mscrobot.procedure.plan import RESAMPLE_WAIT_S, worst_case_volumes
from mscrobot.recipe.models import Recipe
from mscrobot.recipe.timings import timings


class PlanError(Exception):
    pass


def max_lab_time_s(recipe: Recipe, lab: LabConfig) -> float:
    """Lab time if every limit is reached: all stirring, every extension, back-exchange."""
    tm = timings(recipe)
    lh = lab.liquid_handler
    stir = tm.max_forward_stir_s
    per_round = (tm.settle_s + len(recipe.monitoring.phases)
                 * float(lh.sample_time.m_as("s")))
    rounds = math.ceil(stir / tm.sampling_interval_s) + 1
    total = stir + rounds * (per_round + RESAMPLE_WAIT_S["forward"]) \
        + 4 * float(lh.dispense_time.m_as("s"))
    if recipe.back_exchange.enabled:
        b_rounds = math.ceil(tm.back_max_s / tm.back_stir_s)
        total += tm.back_max_s + b_rounds * (
            tm.back_settle_s + len(recipe.monitoring.phases)
            * float(lh.sample_time.m_as("s")))
    return total


def plan_view(recipe: Recipe, lab: LabConfig) -> dict[str, Any]:
    problems = check_lab(lab, recipe)
    if problems:
        raise PlanError(f"lab '{lab.name}' cannot run recipe '{recipe.name}': "
                        + "; ".join(problems))
    counts: dict[str, dict[str, Any]] = {}

    def collect(e: Event) -> None:
        if e.kind == EventKind.STEP and e.step is not None and e.step.kind != "decide":
            key = e.step.describe() if e.step.kind != "wait" else f"wait ({e.step.params()['why']})"
            entry = counts.setdefault(key, {"kind": e.step.kind, "describe": key, "n": 0})
            entry["n"] += 1
        elif e.kind == EventKind.VERDICT and e.step is not None:
            p = e.step.params()
            key = f"decide ({p['stage']})"
            entry = counts.setdefault(key, {"kind": "decide", "describe": key, "n": 0})
            entry["n"] += 1

    run = simulate(recipe, lab=dry_counterpart(lab), on_event=collect)
    if run.end == "failed":
        raise PlanError(f"lab '{lab.name}' cannot run recipe '{recipe.name}': its dry run "
                        f"stopped at {run.reason}")
    caps = capacities(lab, recipe)
    need = worst_case_volumes(recipe)
    vessels = [{"name": name, "deck": f"slot {pos.slot} {pos.well} ({pos.labware})",
                "start_ul": float(pos.volume.m_as("uL")),
                "capacity_ul": None if math.isinf(caps[name]) else caps[name],
                "worst_case_ul": need.get(name)} for name, pos in lab.deck.items()]
    robot: dict[str, Any] = {}
    if lab.liquid_handler.backend == "opentrons":
        from mscrobot.app.tips import inventory, worst_case_tips
        from mscrobot.lab.opentrons.layout import geometry_warnings, labware_offsets

        stock, racks = inventory(lab)  # a robot over HTTP: its racks as earlier runs left them
        worst = worst_case_tips(recipe, lab)
        robot = {"labware_offsets": labware_offsets(lab), "warnings": geometry_warnings(lab),
                 "tips": [{"mount": mount, "pipette": lab.liquid_handler.pipettes[mount].name,  # type: ignore[index]
                           "worst_case": worst[mount],
                           "racks_hold": sum(r.left for r in racks[mount]),
                           "inventory": None if stock is None else str(stock.path)}
                          for mount in racks]}
    return {
        "recipe": recipe.name, "lab": lab.name, **robot,
        "steps": [{"kind": v["kind"], "describe": v["describe"],
                   "repeat": f"×{v['n']}" if v["n"] > 1 else ""} for v in counts.values()],
        "vessels": vessels,
        "time_estimate": {"expected_min": run.time_s / 60.0, "expected_end": run.end,
                          "max_min": max_lab_time_s(recipe, lab) / 60.0},
    }
