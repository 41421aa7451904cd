"""Solvents: density (which phase is on top), UV cutoff (what the spectrometer can see through),
miscibility with the alkane phase (whether there are two phases at all) and boiling point.

Handbook values at 20–25 °C. Where a cutoff is not a dependable constant (NMF) it is ``None``:
the usable window then comes from a blank of that solvent, which the recipe must measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mscrobot.chemistry.facts import Fact, assumed, handbook, literature

Role = Literal["nonpolar", "polar"]


@dataclass(frozen=True, slots=True)
class Solvent:
    name: str
    aliases: tuple[str, ...]
    role: Role
    density_g_per_ml: Fact[float]
    uv_cutoff_nm: Fact[float | None]
    boiling_point_c: Fact[float]
    miscible_with_alkanes: Fact[bool]
    note: str = ""


SOLVENTS: dict[str, Solvent] = {
    s.name: s
    for s in (
        Solvent(
            "hexane", ("n-hexane", "C6H14"), "nonpolar",
            handbook(0.655), handbook(195.0), handbook(69.0), handbook(True),
            "Cluster phase for (CdS)34 and (ZnSe)34 in the paper; the top layer over DMF.",
        ),
        Solvent(
            "hexene", ("1-hexene", "hex-1-ene"), "nonpolar",
            handbook(0.673), assumed(220.0, "C=C absorption; check with a blank"),
            handbook(63.0), handbook(True),
            "Cluster phase for (CdSe)34 in the paper's text (one figure caption says hexane).",
        ),
        Solvent(
            "DMF", ("N,N-dimethylformamide", "dimethylformamide", "HCON(CH3)2"), "polar",
            handbook(0.944), handbook(268.0), handbook(153.0),
            handbook(False, "forms a separate lower layer under hexane"),
            "Salt phase in the paper.",
        ),
        Solvent(
            "NMF", ("N-methylformamide", "methylformamide", "HCONHCH3"), "polar",
            handbook(1.011),
            Fact(None, "handbook", "no dependable constant; the usable window comes from a blank"),
            handbook(182.5), literature(False, "separates from hexane"),
            "The paper keeps (CdS)34-ZnCl2 dispersed in NMF for 60 h.",
        ),
        Solvent(
            "DMSO", ("dimethyl sulfoxide", "dimethylsulfoxide", "(CH3)2SO"), "polar",
            handbook(1.100), handbook(268.0), handbook(189.0), handbook(False),
            "Not used in the paper.",
        ),
        Solvent(
            "acetonitrile", ("MeCN", "ACN", "CH3CN"), "polar",
            handbook(0.786), handbook(190.0), handbook(82.0),
            literature(False, "two phases with hexane at room temperature"),
            "Not used in the paper.",
        ),
        Solvent(
            "acetone", (), "polar",
            handbook(0.784), handbook(330.0), handbook(56.0), handbook(True),
            "Miscible with hexane and opaque below ~330 nm: a redispersion solvent (the paper "
            "keeps (CdS)34-ZnCl2 in it for 60 h), never the exchange phase.",
        ),
        Solvent(
            "toluene", ("methylbenzene", "C6H5CH3"), "nonpolar",
            handbook(0.867), handbook(284.0), handbook(111.0), handbook(True),
            "Not used in the paper.",
        ),
        Solvent(
            "water", ("H2O",), "polar",
            handbook(0.997), handbook(190.0), handbook(100.0), handbook(False),
            "Not used in the paper.",
        ),
    )
}
