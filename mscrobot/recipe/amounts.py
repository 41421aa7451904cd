"""The amounts a chemist writes up: moles, equivalents per cluster and masses to weigh.

A recipe gives concentrations and volumes; a lab notebook wants nmol of clusters, µmol of
metal, metal ions and OLA molecules per cluster, the molar concentration behind a mass
concentration and the mass of each solid to weigh for a stock (hydrate included). Every number
here is derived from the recipe and the knowledge base (molar masses are *handbook*; the capped
cluster's molar mass uses the paper's TGA shell fraction). Pure: a recipe in, numbers out.
"""

from __future__ import annotations

from dataclasses import dataclass

from mscrobot.chemistry import CLUSTERS, OLEYLAMINE, find_salt
from mscrobot.recipe.models import Recipe
from mscrobot.units import format_molar


def ola_volume_ul(recipe: Recipe) -> float:
    """The back-exchange's oleylamine as a volume (µL), however the recipe gives it."""
    ola = recipe.back_exchange.ola
    if ola.check("[length] ** 3"):
        return float(ola.m_as("uL"))
    return (float(ola.m_as("nmol")) * 1e-9 * OLEYLAMINE.molar_mass_g_per_mol.value
            / OLEYLAMINE.density_g_per_ml.value * 1e3)


@dataclass(frozen=True)
class Amounts:
    """What the vial receives at the start (and with the back-exchange), in a chemist's units."""

    cluster: str  # "(CdS)34"
    cluster_nmol: float
    cluster_um: float  # the cluster stock in µM (converted when written as mg/mL)
    cluster_molar_mass: float  # g/mol of the capped cluster
    salt: str  # the formula weighed, hydrate included: "Zn(NO3)2·6H2O"
    metal: str
    salt_molar: float  # M
    salt_molar_mass: float  # g/mol of the form weighed
    metal_umol: float
    metal_per_cluster: float
    ola_ul: float  # 0 without a back-exchange
    ola_umol: float
    ola_per_cluster: float

    def salt_mg(self, stock_ul: float) -> float:
        """Mass of the salt (as weighed, with its water) for ``stock_ul`` of stock solution."""
        return self.salt_molar * stock_ul * 1e-6 * self.salt_molar_mass * 1e3

    def cluster_mg(self, stock_ul: float) -> float:
        """Mass of capped clusters for ``stock_ul`` of cluster stock."""
        return self.cluster_um * 1e-6 * stock_ul * 1e-6 * self.cluster_molar_mass * 1e3

    def as_dict(self) -> dict[str, float | str]:
        return {"cluster": self.cluster, "cluster_nmol": self.cluster_nmol,
                "cluster_uM": self.cluster_um, "salt": self.salt, "metal": self.metal,
                "salt_M": self.salt_molar, "salt_molar_mass_g_per_mol": self.salt_molar_mass,
                "metal_umol": self.metal_umol, "metal_per_cluster": self.metal_per_cluster,
                "ola_uL": self.ola_ul, "ola_umol": self.ola_umol,
                "ola_per_cluster": self.ola_per_cluster}


def amounts(recipe: Recipe) -> Amounts:
    c, s = recipe.cluster, recipe.salt
    cluster = CLUSTERS[f"{c.material}{c.size}"]
    salt, _ = find_salt(s.compound)
    nmol = float(recipe.cluster_moles().m_as("nmol"))
    volume_ml = float(c.volume.m_as("mL"))
    metal_nmol = float(recipe.metal_moles().m_as("nmol"))
    ola_ul = ola_volume_ul(recipe) if recipe.back_exchange.enabled else 0.0
    ola_umol = (ola_ul * 1e-3 * OLEYLAMINE.density_g_per_ml.value
                / OLEYLAMINE.molar_mass_g_per_mol.value * 1e6)
    per = (lambda n: n / nmol) if nmol > 0 else (lambda n: float("inf"))
    return Amounts(
        cluster=f"({c.material}){c.size}", cluster_nmol=nmol,
        cluster_um=nmol / volume_ml if volume_ml > 0 else 0.0,  # nmol/mL = µM
        cluster_molar_mass=cluster.molar_mass_with_shell_g_per_mol,
        salt=salt.formula(s.hydrate), metal=salt.metal,
        salt_molar=float(s.concentration.m_as("M")),
        salt_molar_mass=(salt.molar_masses[s.hydrate].value if s.hydrate in salt.molar_masses
                         else float("nan")),  # an unknown hydrate: the checks refuse it
        metal_umol=metal_nmol / 1e3, metal_per_cluster=per(metal_nmol),
        ola_ul=ola_ul, ola_umol=ola_umol, ola_per_cluster=per(ola_umol * 1e3),
    )


def describe(a: Amounts, stock_ul: dict[str, float] | None = None) -> list[str]:
    """Lines for a person: the amounts in the vial and, given the volume of each stock the lab
    holds (µL by deck role), the mass of each solid to weigh for it."""
    lines = [f"clusters: {a.cluster_nmol:.3g} nmol {a.cluster} ({a.cluster_um:.3g} µM)",
             f"metal: {a.metal_umol:.3g} µmol {a.metal} from {a.salt} {format_molar(a.salt_molar)} "
             f"= {a.metal_per_cluster:.4g} {a.metal} per cluster"]
    if a.ola_ul > 0:
        lines.append(f"oleylamine: {a.ola_ul:.3g} µL = {a.ola_umol:.3g} µmol "
                     f"= {a.ola_per_cluster:.4g} per cluster")
    for role, what, mg in (("salt_stock", a.salt, a.salt_mg),
                           ("cluster_stock", f"{a.cluster} (capped)", a.cluster_mg)):
        if stock_ul and stock_ul.get(role):
            ml = stock_ul[role] / 1e3
            lines.append(f"weigh: {mg(stock_ul[role]):.3g} mg {what} for the {ml:.3g} mL "
                         f"{role.replace('_', ' ')}")
    return lines
