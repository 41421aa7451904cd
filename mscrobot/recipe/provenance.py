"""What a run relies on beyond the paper: each number or behaviour it takes from an assumption,
the literature or its own recipe rather than from Ge et al., with its source tag and where the
value lives, so a chemist sees it in the run's record and report, not only in ``recipe check``.

Pure: a recipe and the knowledge base in, a list of entries out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mscrobot.chemistry import CLUSTERS, Fact, find_salt, find_solvent
from mscrobot.chemistry.uptake import SHARPNESS, bound_loading
from mscrobot.recipe.models import Recipe

#: The only polar solvent the paper runs the exchange in (it redisperses in NMF and acetone).
PAPER_EXCHANGE_SOLVENT = "DMF"


@dataclass(frozen=True)
class Reliance:
    """One thing the run relies on that the paper does not show as such."""

    topic: str  # "polar band 2", "InCl3 transfer", ...
    value: str
    source: str  # assumed | literature | handbook | recipe | not shown
    note: str
    where: str  # where the value lives (knowledge base entry, or the recipe field)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.topic}: {self.value} ({self.source}: {self.note}) [{self.where}]"


def _fact(topic: str, fact: Fact[object], value: str, where: str) -> Reliance | None:
    if fact.source == "paper":
        return None
    return Reliance(topic, value, fact.source, fact.note, where)


def beyond_the_paper(recipe: Recipe) -> list[Reliance]:
    """Everything the run of ``recipe`` relies on that is not what the paper shows."""
    c, s = recipe.cluster, recipe.salt
    key = f"{c.material}{c.size}"
    cluster = CLUSTERS[key]
    salt, _ = find_salt(s.compound)
    kb = f"chemistry/clusters.py CLUSTERS[{key!r}]"
    out: list[Reliance | None] = []
    bands = recipe.monitoring.bands
    assert bands is not None  # filled from the knowledge base by the model
    for phase, facts, given in (("nonpolar", cluster.bands_nonpolar, bands.nonpolar),
                                ("polar", cluster.bands_polar, bands.polar)):
        for i, band in enumerate(given):
            nm = float(band.m_as("nm"))
            fact = facts[i] if i < len(facts) else None
            if fact is None or abs(fact.value - nm) > 1e-9:
                out.append(Reliance(f"{phase} band {i + 1}", f"{nm:g} nm", "recipe",
                                    "set by the recipe, not the knowledge base",
                                    f"recipe monitoring.bands.{phase}[{i}]"))
            else:
                out.append(_fact(f"{phase} band {i + 1}", fact, f"{nm:g} nm",
                                 f"{kb}.bands_{phase}[{i}]"))
    out.append(_fact("band absorptivity", cluster.epsilon_first_band,
                     f"{cluster.epsilon_first_band.value:g} M⁻¹cm⁻¹", f"{kb}.epsilon_first_band"))
    loading = bound_loading(cluster, salt)
    out.append(_fact("bound metal per cluster", loading,
                     f"{loading.value:g} {salt.metal} per cluster (the dose–response's; "
                     f"{SHARPNESS.source} shape)",
                     f"chemistry/uptake.py bound_loading({key!r}, {salt.name!r})"))
    salts = f"chemistry/salts.py SALTS[{salt.name!r}]"
    if salt.transfers.source != "paper":
        out.append(_fact(f"{salt.name} transfer", salt.transfers, "transfers the clusters",
                         f"{salts}.transfers"))
    elif key not in salt.transfers.value:
        out.append(Reliance(f"{salt.name} transfer", f"transfers {key}", "not shown",
                            f"the paper shows {salt.name} with "
                            f"{', '.join(salt.transfers.value)} only", f"{salts}.transfers"))
    if recipe.back_exchange.enabled and salt.back_exchange.value is not True:
        out.append(Reliance("OLA back-exchange", f"after {salt.name}",
                            "not shown" if salt.back_exchange.source == "paper"
                            else salt.back_exchange.source, salt.back_exchange.note,
                            f"{salts}.back_exchange"))
    if s.solvent != PAPER_EXCHANGE_SOLVENT:
        solvent = find_solvent(s.solvent)
        out.append(Reliance("exchange phase", s.solvent, "assumed",
                            f"the paper runs the exchange in DMF only; {solvent.note}",
                            "recipe salt.solvent"))
    if c.solvent not in cluster.paper_solvents:
        out.append(Reliance("cluster phase", c.solvent, "assumed",
                            f"the paper disperses ({c.material}){c.size} in "
                            f"{', '.join(cluster.paper_solvents)}", "recipe cluster.solvent"))
    if c.ligand not in cluster.paper_ligands:
        out.append(Reliance("capping amine", c.ligand, "assumed",
                            f"the paper caps ({c.material}){c.size} with "
                            f"{', '.join(cluster.paper_ligands)}", "recipe cluster.ligand"))
    return [r for r in out if r is not None]


def chemistry_caveat(recipe: Recipe) -> str:
    """A short note for a verdict that rests on chemistry the paper does not show ('' if it is
    the paper's): the transfer of this salt and cluster, the exchange phase, the back-exchange."""
    found = [r for r in beyond_the_paper(recipe)
             if r.topic.endswith("transfer") or r.topic in ("exchange phase",
                                                            "OLA back-exchange")]
    return "; ".join(f"{r.topic} {r.source}" for r in found)
