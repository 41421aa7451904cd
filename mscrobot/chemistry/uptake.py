"""How much of a batch of clusters a dose of salt can carry into the polar phase.

One dose–response for everything that needs it: the twin moves clusters towards it and the
recipe check warns from it, so no recipe passes the check without a warning and then stalls in
the twin.

What the paper gives is the metal *bound* after the exchange, never a dose series: ICP-OES finds
"22% on the surfaces of each (CdS)34-ZnCl2 MSC, corresponding to 7.5 Zn atoms" (Table S1), and
"14–31% Zn" on the metal-salt capped (CdSe)34 (Table S2). How much salt the transfers used is in
the ESI, not the text. So the shape is assumed: the metal present carries clusters across until
each one that crossed holds the bound loading; near the loading the supply runs short and the
transfer stops part-way. ``carried_fraction`` is a soft minimum of supply (equivalents ÷
loading) and demand (every cluster), with an assumed sharpness.
"""

from __future__ import annotations

from mscrobot.chemistry.clusters import CLUSTERS, Cluster
from mscrobot.chemistry.facts import Fact, assumed, derived
from mscrobot.chemistry.salts import Salt

#: Sharpness m of the soft minimum x / (1 + x^m)^(1/m): at the bound loading (x = 1) 92 % of
#: the clusters cross, at 1.2x 97.5 %, at 2x all but 0.05 %.
SHARPNESS: Fact[float] = assumed(
    8.0,
    "shape of the dose–response; the paper shows no dose "
    "series, only excess salt and the metal bound after it",
)

#: Bound metal per cluster the dose–response uses when the paper's loading is a range: the
#: upper end, so a recipe is never told it has enough when the range allows it does not.
_CDSE_UPPER = 1


def bound_loading(cluster: Cluster, salt: Salt) -> Fact[float]:
    """Metal ions bound per cluster after exchange with ``salt``: what a transferred cluster
    takes out of the solution. The paper's number only for (CdS)34 with ZnCl2; every other
    pair says where its number comes from."""
    paper = cluster.zn_loading_per_cluster
    cdse = CLUSTERS["CdSe34"].zn_loading_per_cluster
    if cluster.key == "CdS34":
        if salt.name == "ZnCl2":
            return Fact(paper.value[0], paper.source, paper.note)
        if salt.metal == "Zn":
            return assumed(
                paper.value[0],
                f"taken from ZnCl2's 7.5 Zn per (CdS)34; the "
                f"{salt.name} loading (Table S1) is not in the text",
            )
        return assumed(
            paper.value[0],
            f"taken from Zn's 7.5 per (CdS)34 (the same surface "
            f"sites); no {salt.metal} loading is reported",
        )
    if cluster.key == "CdSe34":
        upper = cdse.value[_CDSE_UPPER]
        if salt.name in ("ZnCl2", "Zn(OAc)2"):
            return derived(upper, f"upper end of {cdse.value[0]:g}–{upper:g}, {cdse.note}")
        return assumed(
            upper,
            f"taken from ZnCl2/Zn(OAc)2's {cdse.value[0]:g}–{upper:g} per "
            f"(CdSe)34 (upper end); no {salt.name} loading is reported",
        )
    return assumed(
        paper.value[0],
        f"no loading reported for ({cluster.material})"
        f"{cluster.size} (its own Zn hides the ligand's in ICP-OES); "
        "taken from (CdS)34's 7.5",
    )


def carried_fraction(equivalents: float, loading: float) -> float:
    """Fraction of the intact clusters ``equivalents`` metal ions per cluster can carry across
    (the rest stays in the alkane however long it is stirred)."""
    if equivalents <= 0:
        return 0.0
    m = SHARPNESS.value
    x = equivalents / loading
    return x / (1.0 + x**m) ** (1.0 / m)


def equivalents_for(fraction: float, loading: float) -> float:
    """Metal ions per cluster needed to carry ``fraction`` (< 1) of the clusters across: the
    inverse of ``carried_fraction``."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"a fraction carried across must be in [0, 1), got {fraction}")
    m = SHARPNESS.value
    return loading * fraction / (1.0 - fraction**m) ** (1.0 / m)
