"""Names: every way of writing a known salt finds it; a suggestion never switches species."""

from __future__ import annotations

import pytest

from mscrobot.chemistry import UnknownNameError, find_cluster, find_salt, find_solvent
from mscrobot.chemistry.names import composition, edits, is_known_compound


@pytest.mark.parametrize(("written", "salt", "hydrate"), [
    ("Zn(CF3SO3)2", "Zn(OTf)2", None), ("zinc triflate", "Zn(OTf)2", None),
    ("zinc trifluoromethanesulfonate", "Zn(OTf)2", None),
    ("Zn(CH3COO)2", "Zn(OAc)2", None), ("Zn(CH3CO2)2", "Zn(OAc)2", None),
    ("Zn(O2CCH3)2", "Zn(OAc)2", None), ("zinc(II) acetate", "Zn(OAc)2", None),
    ("zinc chloride", "ZnCl2", None), ("Cl2Zn", "ZnCl2", None),
    ("zinc nitrate hexahydrate", "Zn(NO3)2", 6), ("Zn(OAc)2 dihydrate", "Zn(OAc)2", 2),
    ("Zn(NO3)2·6H2O", "Zn(NO3)2", 6), ("indium(III) chloride", "InCl3", None),
])
def test_formulas_and_common_names_find_the_salt(written: str, salt: str,
                                                   hydrate: int | None) -> None:
    found, n = find_salt(written)
    assert (found.name, n) == (salt, hydrate)


@pytest.mark.parametrize("other", ["ZnI2", "ZnBr2", "CuCl2", "Zn(NO2)2", "ZnSO4",
                                   "zinc iodide", "zinc nitrite", "cadmium chloride",
                                   "zinc bromide"])
def test_another_salt_is_unknown_and_never_suggested(other: str) -> None:
    with pytest.raises(UnknownNameError) as e:
        find_salt(other)
    assert f"unknown salt {other!r}" in str(e.value)
    assert "did you mean" not in str(e.value)
    assert "known: ZnCl2, Zn(NO3)2, Zn(OTf)2, Zn(OAc)2, InCl3, In(NO3)3" in str(e.value)


@pytest.mark.parametrize("other", ["DMA", "THF", "heptane", "octane", "C3H7NO", "NMP",
                                   "dichloromethane"])
def test_another_solvent_is_never_suggested(other: str) -> None:
    with pytest.raises(UnknownNameError) as e:
        find_solvent(other)
    assert "did you mean" not in str(e.value)


def test_another_cluster_material_is_never_suggested() -> None:
    with pytest.raises(UnknownNameError) as e:
        find_cluster("CdTe")
    assert "did you mean" not in str(e.value)


@pytest.mark.parametrize(("typo", "meant"), [
    ("ZnCl", "ZnCl2"), ("zinc chlorid", "ZnCl2"), ("zinc triflat", "Zn(OTf)2"),
    ("Zn(N03)2", "Zn(NO3)2"), ("zinc acetat", "Zn(OAc)2"), ("Zn(OTf)3", "Zn(OTf)2"),
])
def test_a_typo_of_a_known_salt_is_suggested(typo: str, meant: str) -> None:
    with pytest.raises(UnknownNameError, match=f"did you mean {meant!r}".replace("(", r"\(")
                       .replace(")", r"\)")):
        find_salt(typo)


@pytest.mark.parametrize(("typo", "meant"), [("hexan", "hexane"), ("toluen", "toluene"),
                                             ("acetonitril", "acetonitrile")])
def test_a_typo_of_a_known_solvent_is_suggested(typo: str, meant: str) -> None:
    with pytest.raises(UnknownNameError, match=f"did you mean {meant!r}"):
        find_solvent(typo)


def test_formula_parsing_and_charge_balance() -> None:
    assert composition("Zn(OTf)2") == composition("Zn(CF3SO3)2")
    assert composition("Zn(NO3)2") == {"Zn": 1, "N": 2, "O": 6}
    assert composition("zinc") is None and composition("Zn(NO3") is None
    assert composition("Xx2") is None and composition("Zn0") is None
    assert is_known_compound(composition("CdTe"))  # type: ignore[arg-type]
    assert is_known_compound(composition("InCl3"))  # type: ignore[arg-type]
    assert not is_known_compound(composition("ZnCl"))  # type: ignore[arg-type]
    assert not is_known_compound(composition("ZnCl3"))  # type: ignore[arg-type]
    assert edits("chloride", "chlorid") == 1 and edits("hexane", "hexnae") == 1
    assert edits("heptane", "hexane") == 2
