"""Amounts for the notebook, checked by hand from the knowledge base's molar masses."""

from __future__ import annotations

import pytest

from mscrobot.recipe import RecipeError, load_recipe, load_recipe_text
from mscrobot.recipe.amounts import amounts, describe, ola_volume_ul
from tests.recipe.helpers import recipe_yaml

CDS34_CAPPED = 34 * (112.41 + 32.06) / (1 - 0.18)  # g/mol: core over (1 - TGA shell fraction)


def test_the_reference_recipe_in_moles_equivalents_and_masses() -> None:
    a = amounts(load_recipe("recipes/cds34-zncl2.yaml").recipe)
    assert a.cluster_nmol == pytest.approx(30.0)  # 20 µM × 1.5 mL
    assert a.metal_umol == pytest.approx(75.0)  # 0.05 M × 1.5 mL
    assert a.metal_per_cluster == pytest.approx(2500.0)
    assert a.ola_umol == pytest.approx(50e-3 * 0.813 / 267.49 * 1e6)  # 50 µL neat OLA
    assert a.ola_per_cluster == pytest.approx(a.ola_umol * 1e3 / 30.0)
    assert a.salt_mg(15_000) == pytest.approx(0.05 * 0.015 * 136.29 * 1e3)
    assert a.cluster_molar_mass == pytest.approx(CDS34_CAPPED, rel=1e-3)
    assert a.cluster_mg(15_000) == pytest.approx(20e-6 * 0.015 * CDS34_CAPPED * 1e3, rel=1e-3)


def test_the_hydrate_changes_the_mass_to_weigh_not_the_moles() -> None:
    dry = amounts(load_recipe_text(recipe_yaml(salt__compound="Zn(NO3)2")).recipe)
    wet = amounts(load_recipe_text(recipe_yaml(salt__compound="Zn(NO3)2·6H2O")).recipe)
    assert wet.salt == "Zn(NO3)2·6H2O" and dry.salt == "Zn(NO3)2"
    assert wet.metal_umol == pytest.approx(dry.metal_umol)
    assert wet.salt_mg(1000) / dry.salt_mg(1000) == pytest.approx(297.49 / 189.36)


def test_a_mass_concentration_of_clusters_is_converted_with_the_capped_molar_mass() -> None:
    mg_ml = 0.1
    a = amounts(load_recipe_text(recipe_yaml(cluster__concentration=f"{mg_ml} mg/mL")).recipe)
    assert a.cluster_um == pytest.approx(mg_ml / CDS34_CAPPED * 1e6, rel=1e-3)
    assert a.cluster_mg(1000) == pytest.approx(mg_ml, rel=1e-9)  # 1 mL at 0.1 mg/mL


def test_ola_given_as_an_amount_is_the_same_volume() -> None:
    by_volume = load_recipe_text(recipe_yaml(back_exchange__ola="50 uL")).recipe
    umol = 50e-3 * 0.813 / 267.49 * 1e6
    by_amount = load_recipe_text(recipe_yaml(back_exchange__ola=f"{umol:.6f} umol")).recipe
    assert ola_volume_ul(by_amount) == pytest.approx(ola_volume_ul(by_volume), rel=1e-5)


def test_the_description_names_every_amount_and_mass() -> None:
    a = amounts(load_recipe("recipes/cds34-zncl2.yaml").recipe)
    lines = describe(a, {"salt_stock": 15_000, "cluster_stock": 15_000})
    text = "\n".join(lines)
    assert "30 nmol (CdS)34" in text and "2500 Zn per cluster" in text
    assert "weigh: 102 mg ZnCl2 for the 15 mL salt stock" in text
    assert len(describe(a)) == 3  # no stock volumes: no masses


def test_a_salt_written_as_a_mass_concentration_is_converted_with_its_hydrate() -> None:
    wet = load_recipe_text(recipe_yaml(salt__compound="Zn(NO3)2·6H2O",
                                       salt__concentration="14.8745 mg/mL")).recipe
    assert float(wet.salt.concentration.m_as("M")) == pytest.approx(0.05, rel=1e-6)
    dry = load_recipe_text(recipe_yaml(salt__compound="ZnCl2",
                                       salt__concentration="6.8145 mg/mL")).recipe
    assert amounts(dry).metal_per_cluster == pytest.approx(2500.0, rel=1e-6)
    with pytest.raises(RecipeError, match="no known hydrate with 6 H2O"):
        load_recipe_text(recipe_yaml(salt__compound="Zn(OTf)2", salt__hydrate=6,
                                     salt__concentration="10 mg/mL"))
