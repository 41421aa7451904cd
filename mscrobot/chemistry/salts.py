"""Metal salts that carry clusters into the polar phase, and what the paper shows each doing.

``transfers`` lists the clusters the paper shows transferring with the salt; ``back_exchange``
says whether OLA back-exchange is shown for (CdS)34; ``metal_retained_after_ola`` records the
ICP-OES finding (True for Zn(OTf)2 only). A spectrum cannot tell retention, so the run records it
from here rather than inferring it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mscrobot.chemistry.facts import Fact, assumed, handbook, literature, paper


@dataclass(frozen=True, slots=True)
class SaltAbsorption:
    """A UV band of the salt itself, which hides cluster bands unless a blank removes it."""

    peak_nm: float
    absorbance_per_cm_at_0_1_m: float
    half_width_nm: float
    fact: Fact[str]


@dataclass(frozen=True, slots=True)
class Salt:
    name: str
    metal: str
    charge: int
    aliases: tuple[str, ...]
    #: Molar mass (g/mol) per hydrate form, keyed by waters per formula unit (0 = anhydrous).
    molar_masses: dict[int, Fact[float]]
    transfers: Fact[tuple[str, ...]]
    back_exchange: Fact[bool | None]
    metal_retained_after_ola: Fact[bool | None]
    absorption: SaltAbsorption | None = None
    note: str = ""
    metal_per_formula: int = 1
    hydrate_names: dict[int, str] = field(default_factory=dict)

    @property
    def assumed(self) -> bool:
        """True when the paper does not show this salt doing an exchange at all."""
        return self.transfers.source == "assumed"

    def formula(self, hydrate: int) -> str:
        return self.name if hydrate == 0 else f"{self.name}·{hydrate}H2O"


SALTS: dict[str, Salt] = {
    s.name: s
    for s in (
        Salt(
            "ZnCl2", "Zn", 2, ("zinc chloride", "zinc(II) chloride", "zinc dichloride"),
            {0: handbook(136.29)},
            paper(("CdS34", "CdSe34", "ZnSe34"), "complete transfer; hexane layer colourless"),
            paper(True, "immediate reverse transfer with OLA"),
            paper(False, "Zn drops after OLA (Table S1)"),
        ),
        Salt(
            "Zn(NO3)2", "Zn", 2, ("zinc nitrate", "zinc(II) nitrate"),
            {0: handbook(189.36), 6: handbook(297.49)},
            paper(("CdS34",), "9 nm blue shift as for ZnCl2"),
            Fact(None, "paper", "OLA back-exchange not shown for Zn(NO3)2"),
            Fact(None, "paper", "not measured"),
            SaltAbsorption(302.0, 1.4, 20.0,
                           literature("nitrate n-pi* band, ~1.4 AU/cm at 0.1 M near 302 nm")),
            "Nitrate absorbs near 302 nm: measure a salt blank.",
            hydrate_names={6: "hexahydrate"},
        ),
        Salt(
            "Zn(OTf)2", "Zn", 2, ("zinc triflate", "zinc(II) triflate",
                                   "zinc trifluoromethanesulfonate", "Zn(CF3SO3)2"),
            {0: handbook(363.53)},
            paper(("CdS34",), "9 nm blue shift as for ZnCl2"),
            paper(True, "immediate reverse transfer with OLA"),
            paper(True, "Zn content unchanged after OLA (Table S1)"),
        ),
        Salt(
            "Zn(OAc)2", "Zn", 2, ("zinc acetate", "zinc(II) acetate", "Zn(CH3COO)2"),
            {0: handbook(183.48), 2: handbook(219.51)},
            paper(("CdS34", "CdSe34"), "complete transfer (Fig. S4a; Fig. 4)"),
            paper(True, "immediate reverse transfer with OLA"),
            paper(False, "Zn drops after OLA (Table S1)"),
            hydrate_names={2: "dihydrate"},
        ),
        Salt(
            "InCl3", "In", 3, ("indium chloride", "indium(III) chloride", "indium trichloride"),
            {0: handbook(221.18), 4: handbook(293.24)},
            assumed(("CdS34",), "an In3+ salt is named only in the abstract; no data shown"),
            assumed(None, "not shown"),
            assumed(None, "not shown"),
            note="Assumed: the paper names In3+ only in its abstract.",
            hydrate_names={4: "tetrahydrate"},
        ),
        Salt(
            "In(NO3)3", "In", 3, ("indium nitrate", "indium(III) nitrate"),
            {0: handbook(300.83), 5: handbook(390.91)},
            assumed(("CdS34",), "an In3+ salt is named only in the abstract; no data shown"),
            assumed(None, "not shown"),
            assumed(None, "not shown"),
            SaltAbsorption(302.0, 2.1, 20.0,
                           assumed("nitrate band scaled by 3 nitrates per formula unit "
                                   "(3/2 of Zn(NO3)2)")),
            "Assumed: the paper names In3+ and NO3- only in its abstract.",
            hydrate_names={5: "pentahydrate"},
        ),
    )
}
