"""What a campaign asks the operator to prepare: each distinct stock and its worst-case total.

A dry run gives every run its own fresh deck, so a campaign never runs short in the twin; a
lab does not. Runs that use the same stock (same salt, hydrate, solvent and concentration; same
cluster solution; the shared hexane and oleylamine) draw on one vial, so the campaign sums each
run's worst case (``worst_case_volumes``: every policy rung used) per stock and compares it with
what the lab's deck holds at that position. Pure: recipes and the lab config in, rows out.
"""

from __future__ import annotations

from dataclasses import dataclass

from mscrobot.lab.config import LabConfig
from mscrobot.procedure.plan import worst_case_volumes
from mscrobot.recipe.amounts import amounts
from mscrobot.recipe.models import Recipe
from mscrobot.units import format_molar


@dataclass(frozen=True)
class StockNeed:
    """One stock vial the campaign draws on: which deck position holds it on one run's deck,
    what is in it, the runs that use it and the most they may take together (µL)."""

    position: str
    contents: str
    runs: tuple[int, ...]
    worst_case_ul: float
    deck_holds_ul: float
    #: the solid to weigh for one vial of this stock (salt with its water, capped clusters)
    weigh: str = ""

    @property
    def short(self) -> bool:
        """The campaign may need more than one vial at this deck position holds."""
        return self.worst_case_ul > self.deck_holds_ul + 1e-9


def _contents(recipe: Recipe) -> dict[str, str]:
    """A label per stock position that is equal exactly when two runs can share the vial."""
    s, c = recipe.salt, recipe.cluster
    hydrate = f"·{s.hydrate}H2O" if s.hydrate else ""
    return {
        "salt_stock": f"{s.compound}{hydrate} {format_molar(float(s.concentration.m_as('M')))} "
                      f"in {s.solvent}",
        "cluster_stock": f"({c.material}){c.size} {c.ligand} {c.concentration:~P} in {c.solvent}",
        "hexane_stock": recipe.cluster.solvent,
        "ola_stock": "oleylamine",
    }


def _weigh(recipe: Recipe, position: str, vial_ul: float) -> str:
    a = amounts(recipe)
    if position == "salt_stock":
        return f"{a.salt_mg(vial_ul):.3g} mg {a.salt} in {vial_ul / 1000:.3g} mL"
    if position == "cluster_stock":
        return f"{a.cluster_mg(vial_ul):.3g} mg {a.cluster} (capped) in {vial_ul / 1000:.3g} mL"
    return ""


def stock_sheet(recipes: list[Recipe], lab: LabConfig) -> list[StockNeed]:
    """Every distinct stock the campaign's runs use, in first-use order."""
    totals: dict[tuple[str, str], float] = {}
    users: dict[tuple[str, str], list[int]] = {}
    for k, recipe in enumerate(recipes):
        need = worst_case_volumes(recipe)
        for position, what in _contents(recipe).items():
            if need[position] > 0:
                totals[position, what] = totals.get((position, what), 0.0) + need[position]
                users.setdefault((position, what), []).append(k)
    out = []
    for (position, what), total in totals.items():
        vial = float(lab.deck[position].volume.m_as("uL"))
        first = recipes[users[position, what][0]]
        out.append(StockNeed(position, what, tuple(users[position, what]), total, vial,
                             _weigh(first, position, vial)))
    return out
