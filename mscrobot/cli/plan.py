"""``mscrobot plan``: the steps a recipe compiles to on a lab, its vessels and a time estimate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mscrobot.cli.common import EXIT_BAD_INPUT, LabOption, fail, load_inputs


def plan(
    recipe: Annotated[Path, typer.Argument(help="Recipe file (YAML).")],
    lab: LabOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
    = False,
) -> None:
    """Show the steps a recipe compiles to, volumes per vessel, deck use and a time estimate."""
    from mscrobot.app.planview import PlanError, plan_view

    parsed, _, lab_config, _ = load_inputs(recipe, lab)
    try:
        view = plan_view(parsed, lab_config)
    except PlanError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    if as_json:
        typer.echo(json.dumps(view, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{parsed.name}[/bold] on lab {lab_config.name}")
    steps = Table("#", "step", "repeats",
                  title=f"Steps (counted in a dry run of lab {lab_config.name} with every device "
                        "simulated, seed 0)")
    for i, s in enumerate(view["steps"], 1):
        steps.add_row(str(i), s["describe"], s["repeat"])
    console.print(steps)
    vols = Table("vessel", "deck", "holds (µL)", "gives/receives at most (µL)", title="Vessels")
    for v in view["vessels"]:
        worst = "—" if v["worst_case_ul"] is None else f"{v['worst_case_ul']:.0f}"
        vols.add_row(v["name"], v["deck"], f"{v['start_ul']:.0f}", worst)
    console.print(vols)
    est = view["time_estimate"]
    console.print(f"time: {est['expected_min']:.1f} min expected in the dry run "
                  f"(seed 0), {est['max_min']:.0f} min at most by the recipe's limits")
    for o in view.get("labware_offsets") or []:
        v = o["vector"]
        console.print(f"labware offset: {o['definitionUri']} in slot "
                      f"{o['location']['slotName']}: x {v['x']:+.2f} y {v['y']:+.2f} "
                      f"z {v['z']:+.2f} mm", highlight=False)
    for t in view.get("tips") or []:
        where = "in the robot's inventory" if t["inventory"] else "in full racks"
        console.print(f"tips: the {t['pipette']} ({t['mount']}) takes at most "
                      f"{t['worst_case']}; its racks hold {t['racks_hold']} {where}",
                      highlight=False)
    for w in view.get("warnings") or []:
        console.print(f"warning: {w}", highlight=False)
    from mscrobot.recipe.amounts import amounts, describe

    stocks = {v["name"]: v["start_ul"] for v in view["vessels"]}
    for line in describe(amounts(parsed), stocks):
        console.print(line, highlight=False)

