"""The knowledge base says what the paper shows, tags everything else, and overstates nothing."""

from __future__ import annotations

import dataclasses

import pytest

from mscrobot.chemistry import (
    CLUSTERS,
    OLEYLAMINE,
    SALTS,
    SOLVENTS,
    SOURCES,
    Fact,
    UnknownNameError,
    find_cluster,
    find_salt,
    find_solvent,
    shifted_by_energy,
)


def _facts(obj: object) -> list[Fact]:
    found = []
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        values = value.values() if isinstance(value, dict) else (
            value if isinstance(value, tuple) else (value,))
        found.extend(v for v in values if isinstance(v, Fact))
    return found


def test_every_number_carries_a_source_tag() -> None:
    entries = [*CLUSTERS.values(), *SALTS.values(), *SOLVENTS.values(), OLEYLAMINE]
    facts = [f for e in entries for f in _facts(e)]
    assert len(facts) > 60
    assert {f.source for f in facts} <= set(SOURCES)
    assert {f.source for f in facts} == set(SOURCES)


def test_cds34_bands_are_the_papers() -> None:
    cds = CLUSTERS["CdS34"]
    assert [(f.value, f.source) for f in cds.bands_nonpolar] == [(365, "paper"), (335, "paper")]
    assert (cds.bands_polar[0].value, cds.bands_polar[0].source) == (356, "paper")
    # the second DMF band is not in the paper: it is derived, and tagged so
    assert cds.bands_polar[1].source == "assumed"
    assert cds.bands_polar[1].value == pytest.approx(shifted_by_energy(365, 356, 335))
    assert 326 <= cds.bands_polar[1].value <= 328


def test_cluster_masses_and_loading() -> None:
    assert CLUSTERS["CdS34"].core_molar_mass_g_per_mol.value == pytest.approx(4912, abs=2)
    assert CLUSTERS["CdSe34"].core_molar_mass_g_per_mol.value == pytest.approx(6507, abs=1)
    assert CLUSTERS["ZnSe34"].core_molar_mass_g_per_mol.value == pytest.approx(4908, abs=1)
    assert CLUSTERS["CdS34"].zn_loading_per_cluster.value == (7.5, 7.5)
    assert CLUSTERS["CdS34"].shell_mass_fraction.value == 0.18


def test_cdse_and_znse_positions_are_not_claimed_from_the_paper() -> None:
    assert CLUSTERS["CdSe34"].bands_nonpolar[0].source == "literature"
    assert 415 <= CLUSTERS["CdSe34"].bands_nonpolar[0].value <= 418
    assert all(f.source == "assumed" for f in (*CLUSTERS["ZnSe34"].bands_nonpolar,
                                               *CLUSTERS["ZnSe34"].bands_polar))
    assert "hexene" in CLUSTERS["CdSe34"].paper_solvents


def test_salts_do_what_the_paper_shows_and_no_more() -> None:
    assert SALTS["Zn(NO3)2"].back_exchange.value is None  # not shown for nitrate
    assert all(SALTS[s].back_exchange.value is True for s in ("ZnCl2", "Zn(OTf)2", "Zn(OAc)2"))
    assert SALTS["Zn(OTf)2"].metal_retained_after_ola.value is True
    assert SALTS["ZnCl2"].metal_retained_after_ola.value is False
    assert SALTS["Zn(OAc)2"].metal_retained_after_ola.value is False
    assert set(SALTS["ZnCl2"].transfers.value) >= {"CdS34", "CdSe34"}
    assert "CdSe34" not in SALTS["Zn(NO3)2"].transfers.value
    assert all(SALTS[s].assumed for s in SALTS if SALTS[s].metal == "In")
    assert SALTS["Zn(NO3)2"].absorption is not None
    assert SALTS["Zn(NO3)2"].absorption.peak_nm == pytest.approx(302)


def test_solvent_phases_and_cutoffs() -> None:
    hexane, dmf, acetone = SOLVENTS["hexane"], SOLVENTS["DMF"], SOLVENTS["acetone"]
    assert hexane.density_g_per_ml.value < dmf.density_g_per_ml.value  # hexane on top
    assert (hexane.density_g_per_ml.value, dmf.density_g_per_ml.value) == (0.655, 0.944)
    assert (hexane.uv_cutoff_nm.value, dmf.uv_cutoff_nm.value) == (195, 268)
    assert acetone.miscible_with_alkanes.value and acetone.uv_cutoff_nm.value == 330
    assert SOLVENTS["NMF"].uv_cutoff_nm.value is None  # comes from a blank
    assert not SOLVENTS["NMF"].miscible_with_alkanes.value


def test_lookups_accept_chemists_spellings() -> None:
    assert find_salt("zinc chloride")[0].name == "ZnCl2"
    assert find_salt("Zn(NO3)2·6H2O") == (SALTS["Zn(NO3)2"], 6)
    assert find_salt("Zn(OAc)2.2H2O") == (SALTS["Zn(OAc)2"], 2)
    assert find_solvent("1-hexene").name == "hexene"
    assert find_solvent("n,n-dimethylformamide").name == "DMF"
    assert find_cluster("cds").key == "CdS34"
    with pytest.raises(UnknownNameError, match="did you mean 'Zn\\(OTf\\)2'"):
        find_salt("zinc triflat")
    with pytest.raises(UnknownNameError, match="known sizes: 34"):
        find_cluster("CdS", 13)
