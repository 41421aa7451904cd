"""Magic-size clusters: where they absorb in each phase and how heavy they are.

Band positions are what the decision logic looks for. In the alkane phase a cluster shows its
as-synthesised bands; after exchange into the polar phase they shift (the paper: 9 nm blue for
(CdS)34 in DMF). Only the numbers the paper prints are tagged ``paper``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mscrobot.chemistry.facts import Fact, assumed, derived, handbook, literature, paper

Material = Literal["CdS", "CdSe", "ZnSe"]
Ligand = Literal["BTA", "OTA"]

_HC_EV_NM = 1239.84198


def shifted_by_energy(reference_from: float, reference_to: float, band: float) -> float:
    """Shift ``band`` (nm) by the same photon energy as ``reference_from`` → ``reference_to``.

    Used for bands whose shift the paper does not print: a solvation shift is an energy shift,
    not a fixed number of nanometres.
    """
    delta_ev = _HC_EV_NM / reference_to - _HC_EV_NM / reference_from
    return round(_HC_EV_NM / (_HC_EV_NM / band + delta_ev), 1)


@dataclass(frozen=True, slots=True)
class Cluster:
    material: Material
    size: int
    core_molar_mass_g_per_mol: Fact[float]
    #: Mass fraction of the amine shell in the as-synthesised cluster (TGA weight loss).
    shell_mass_fraction: Fact[float]
    #: Band positions (nm) in the alkane phase, strongest first.
    bands_nonpolar: tuple[Fact[float], ...]
    #: Band positions (nm) in the polar (salt) phase after exchange, same order.
    bands_polar: tuple[Fact[float], ...]
    #: Molar absorptivity of the first band in the alkane phase (M^-1 cm^-1).
    epsilon_first_band: Fact[float]
    #: Solvents the paper used for the cluster phase.
    paper_solvents: tuple[str, ...]
    #: Amines the cluster is capped with in the paper.
    paper_ligands: tuple[Ligand, ...]
    #: Zn per cluster found after ZnCl2 exchange (ICP-OES): what ends up bound, not a dose rule
    #: (the dose–response built on it, per salt, is ``chemistry.uptake``).
    zn_loading_per_cluster: Fact[tuple[float, float]]

    @property
    def key(self) -> str:
        return f"{self.material}{self.size}"

    @property
    def molar_mass_with_shell_g_per_mol(self) -> float:
        """Mass of one mole of capped clusters, for converting mg/mL to mol/L."""
        return self.core_molar_mass_g_per_mol.value / (1.0 - self.shell_mass_fraction.value)


_CDS_POLAR_SECOND = shifted_by_energy(365.0, 356.0, 335.0)

CLUSTERS: dict[str, Cluster] = {
    c.key: c
    for c in (
        Cluster(
            "CdS", 34,
            paper(4912.0, "LDI-MS m/z 4913.6"),
            paper(0.18, "TGA: 18 % weight loss of (CdS)34-BTA"),
            (paper(365.0, "(CdS)34-BTA in hexane"), paper(335.0, "(CdS)34-BTA in hexane")),
            (
                paper(356.0, "9 nm blue shift of the 365 nm band in DMF"),
                assumed(_CDS_POLAR_SECOND, "same photon-energy shift as 365 -> 356 nm"),
            ),
            assumed(1.0e5, "order of magnitude for a (CdS)34 first band; replace by a measurement"),
            ("hexane",),
            ("BTA",),
            paper((7.5, 7.5), "ICP-OES: '22% on the surfaces of each (CdS)34-ZnCl2 MSC, "
                              "corresponding to 7.5 Zn atoms' (Table S1)"),
        ),
        Cluster(
            "CdSe", 34,
            handbook(6506.9, "34 x (112.41 + 78.97)"),
            assumed(0.18, "taken equal to (CdS)34's TGA value"),
            (literature(415.0, "'MSC-415'; 415-418 nm reported; the 381/351 nm features may "
                               "belong to other clusters, so one band is fitted"),),
            (assumed(410.0, "the paper shows only a 'slight' blue shift (Fig. S4a)"),),
            assumed(1.0e5, "order of magnitude; replace by a measurement"),
            ("hexene", "hexane"),
            ("OTA",),
            derived((4.8, 10.5), "from the paper's '14-31% Zn' in the metal salt capped "
                                "(CdSe)34 (Table S2) read as Zn:Cd x 34 Cd"),
        ),
        Cluster(
            "ZnSe", 34,
            handbook(4907.9, "34 x (65.38 + 78.97)"),
            assumed(0.18, "taken equal to (CdS)34's TGA value"),
            (assumed(322.0, "position not established in the text (Fig. S5a); near the DMF "
                            "cutoff, so set it from your own spectrum"),),
            (assumed(316.0, "assumed blue shift in DMF"),),
            assumed(1.0e5, "order of magnitude; replace by a measurement"),
            ("hexane",),
            ("BTA", "OTA"),
            assumed((7.5, 7.5), "no loading reported (Table S3 gives the composition; the "
                                "cluster's own Zn hides a Zn ligand's); taken from (CdS)34"),
        ),
    )
}
