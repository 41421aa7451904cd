"""What a run relies on beyond the paper, with its source tag and where it lives."""

from __future__ import annotations

from mscrobot.recipe import load_recipe, load_recipe_text
from mscrobot.recipe.provenance import beyond_the_paper, chemistry_caveat
from tests.recipe.helpers import recipe_yaml


def _topics(text: str) -> dict[str, str]:
    return {r.topic: r.source for r in beyond_the_paper(load_recipe_text(text).recipe)}


def test_the_reference_recipe_relies_only_on_the_assumed_second_polar_band_and_epsilon() -> None:
    found = beyond_the_paper(load_recipe("recipes/cds34-zncl2.yaml").recipe)
    assert {r.topic: r.source for r in found} == {"polar band 2": "assumed",
                                                  "band absorptivity": "assumed"}
    assert found[0].where == "chemistry/clusters.py CLUSTERS['CdS34'].bands_polar[1]"
    assert chemistry_caveat(load_recipe("recipes/cds34-zncl2.yaml").recipe) == ""


def test_an_indium_salt_is_an_assumed_transfer() -> None:
    recipe = load_recipe("recipes/cds34-incl3-assumed.yaml").recipe
    assert _topics(recipe_yaml(salt__compound="InCl3"))["InCl3 transfer"] == "assumed"
    assert chemistry_caveat(recipe) == "InCl3 transfer assumed"


def test_a_back_exchange_the_paper_does_not_show_and_a_salt_not_shown_with_the_cluster() -> None:
    nitrate = _topics(recipe_yaml(salt__compound="Zn(NO3)2"))
    assert nitrate["OLA back-exchange"] == "not shown"
    triflate_cdse = _topics(recipe_yaml(cluster__material="CdSe", cluster__solvent="hexene",
                                        cluster__ligand="OTA", salt__compound="Zn(OTf)2"))
    assert triflate_cdse["Zn(OTf)2 transfer"] == "not shown"


def test_a_polar_solvent_the_paper_does_not_exchange_in_is_assumed() -> None:
    for solvent in ("NMF", "DMSO", "acetonitrile", "water"):
        topics = _topics(recipe_yaml(salt__solvent=solvent))
        assert topics.get("exchange phase") == "assumed", solvent
    assert "exchange phase" not in _topics(recipe_yaml())


def test_bands_the_recipe_sets_are_tagged_as_the_recipes() -> None:
    topics = _topics(recipe_yaml(monitoring__bands={"nonpolar": ["366 nm", "335 nm"],
                                                    "polar": ["356 nm", "327.4 nm"]}))
    assert topics["nonpolar band 1"] == "recipe"
    assert "nonpolar band 2" not in topics  # the paper's 335 nm, written out


def test_the_bound_loading_behind_the_dose_response_is_tagged_per_cluster_and_salt() -> None:
    assert "bound metal per cluster" not in _topics(recipe_yaml())  # the paper's 7.5 Zn
    assert _topics(recipe_yaml(salt__compound="InCl3"))["bound metal per cluster"] == "assumed"
    znse = _topics(recipe_yaml(cluster__material="ZnSe"))
    assert znse["bound metal per cluster"] == "assumed"
    cdse = beyond_the_paper(load_recipe_text(recipe_yaml(
        cluster__material="CdSe", cluster__solvent="hexene", cluster__ligand="OTA")).recipe)
    loading = next(r for r in cdse if r.topic == "bound metal per cluster")
    assert loading.source == "derived" and "14-31% Zn" in loading.note
    assert loading.value.startswith("10.5 Zn per cluster")
