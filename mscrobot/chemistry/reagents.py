"""Reagents other than clusters, salts and solvents: oleylamine for the back-exchange."""

from __future__ import annotations

from dataclasses import dataclass

from mscrobot.chemistry.facts import Fact, handbook


@dataclass(frozen=True, slots=True)
class Reagent:
    name: str
    aliases: tuple[str, ...]
    density_g_per_ml: Fact[float]
    molar_mass_g_per_mol: Fact[float]
    note: str


OLEYLAMINE = Reagent(
    "OLA",
    ("oleylamine",),
    handbook(0.813),
    handbook(267.49),
    "L-type ligand; the paper shows it pulling clusters back into hexane at once. Technical OLA "
    "tints hexane in the near UV (literature): blank hexane + OLA before confirming.",
)
