"""Chemistry checks across fields, before anything runs (issue: validation beyond types)."""

from __future__ import annotations

import pytest

from mscrobot.recipe import RecipeError, load_recipe, load_recipe_text
from tests.recipe.helpers import recipe_yaml


def errors(text: str) -> list[str]:
    with pytest.raises(RecipeError) as info:
        load_recipe_text(text, "r.yaml")
    return [str(p) for p in info.value.problems if p.severity == "error"]


def warnings_of(text: str) -> list[str]:
    return [str(p) for p in load_recipe_text(text, "r.yaml").warnings]


def test_base_recipe_is_valid_without_warnings() -> None:
    loaded = load_recipe_text(recipe_yaml())
    assert loaded.warnings == []
    assert loaded.recipe.equivalents_per_cluster() == pytest.approx(2500)


def test_acetone_is_refused_as_the_exchange_phase() -> None:
    found = errors(recipe_yaml(salt__solvent="acetone"))
    assert "salt.solvent" in found[0] and "mixes with hexane" in found[0]
    # and acetone's ~330 nm cutoff hides the 327 nm DMF-phase band: the bands are the cluster's
    # own (not written), so the finding points at the solvent that hides them
    hidden = [e for e in found if "330 nm" in e]
    assert len(hidden) == 1 and "salt.solvent" in hidden[0]
    assert "the cluster's polar band at 327.4 nm" in hidden[0]
    moved = errors(recipe_yaml(salt__solvent="acetone",
                               monitoring__bands={"nonpolar": ["365 nm", "320 nm"],
                                                  "polar": ["356 nm", "326 nm"]}))
    assert any("monitoring.bands.polar[1]" in e and "326 nm is hidden" in e for e in moved)


def test_cluster_phase_must_be_an_alkane() -> None:
    assert any("cluster.solvent" in e for e in errors(recipe_yaml(cluster__solvent="DMF")))
    assert any("cluster.solvent" in e for e in errors(recipe_yaml(cluster__solvent="toluene")))


def test_polar_phase_must_be_polar() -> None:
    assert any("not a polar solvent" in e for e in errors(recipe_yaml(salt__solvent="hexene")))


def test_nmf_needs_its_blank_because_its_cutoff_is_not_a_constant() -> None:
    nmf = warnings_of(recipe_yaml(salt__solvent="NMF"))
    assert len(nmf) == 1 and "the paper runs the exchange in DMF only" in nmf[0]
    text = recipe_yaml(salt__solvent="NMF", monitoring={"blanks": ["nonpolar", "nonpolar_ola"]})
    assert any("no dependable UV cutoff" in e for e in errors(text))


def test_too_little_salt_warns_with_the_equivalents() -> None:
    (msg,) = warnings_of(recipe_yaml(salt__concentration="0.1 mM"))
    assert "salt.concentration" in msg and "5 Zn per cluster" in msg and "7.5" in msg


def test_mass_concentration_of_clusters_is_converted_with_the_molar_mass() -> None:
    # 0.1 mg/mL of capped (CdS)34 (4912 g/mol core, 18 % shell) is 16.7 uM
    loaded = load_recipe_text(recipe_yaml(cluster__concentration="0.1 mg/mL"))
    assert loaded.recipe.cluster_moles().m_as("nmol") == pytest.approx(
        0.1 / (4912 / 0.82) * 1.5e-3 * 1e9, rel=1e-6)


def test_hydrate_suffix_sets_hydrate_and_unknown_hydrates_are_refused() -> None:
    loaded = load_recipe_text(recipe_yaml(salt__compound="Zn(NO3)2·6H2O"))
    assert (loaded.recipe.salt.compound, loaded.recipe.salt.hydrate) == ("Zn(NO3)2", 6)
    (msg,) = errors(recipe_yaml(salt__compound="Zn(OTf)2", salt__hydrate=6))
    assert "salt.hydrate" in msg and "known hydrates: 0" in msg


def test_volumes_must_fit_the_vessel() -> None:
    (msg,) = errors(recipe_yaml(vessel="vial-2mL"))
    assert "vessel" in msg and "1600 uL" in msg


def test_monitoring_may_not_drain_a_phase() -> None:
    text = recipe_yaml(cluster__volume="300 uL", salt__volume="3 mL")
    (msg,) = errors(text)
    assert "cluster.volume" in msg and "samples" in msg
    returned = warnings_of(recipe_yaml(cluster__volume="300 uL", salt__volume="3 mL",
                                       monitoring={"return_samples": True}))
    assert not any("samples" in w for w in returned)
    # (300 µL of clusters spread over 3 mL of DMF read faint: that one warning stays)
    assert [w for w in returned if "within the noise" not in w] == []


def test_bands_below_the_solvent_cutoff_are_refused() -> None:
    text = recipe_yaml(monitoring={"bands": {"nonpolar": ["365 nm"], "polar": ["262 nm"]}})
    (msg,) = errors(text)
    assert "monitoring.bands.polar[0]" in msg and "DMF" in msg


def test_bands_must_pair() -> None:
    text = recipe_yaml(monitoring={"bands": {"nonpolar": ["365 nm", "335 nm"],
                                             "polar": ["356 nm"]}})
    assert any("same number of bands" in e for e in errors(text))


def test_back_exchange_needs_the_forward_alkane_spectrum() -> None:
    text = recipe_yaml(monitoring={"phases": ["polar"]})
    assert any("back_exchange.enabled" in e for e in errors(text))
    assert load_recipe_text(recipe_yaml(monitoring={"phases": ["polar"]},
                                        back_exchange={"enabled": False}))


def test_back_exchange_for_a_salt_the_paper_does_not_show_warns() -> None:
    (msg,) = warnings_of(recipe_yaml(salt__compound="Zn(NO3)2"))
    assert "back_exchange.enabled" in msg and "not shown" in msg


def test_temperature_near_hexane_boiling_point_is_refused() -> None:
    (msg,) = errors(recipe_yaml(exchange={"temperature": "65 degC"}))
    assert "exchange.temperature" in msg and "hexane" in msg


def test_stop_must_be_the_last_stall_action() -> None:
    text = recipe_yaml(on_stall=["stop", {"action": "extend", "by": "5 min"}])
    (msg,) = errors(text)
    assert "on_stall[0]" in msg


def test_confirmations_must_fit_in_max_time() -> None:
    text = recipe_yaml(exchange={"max_time": "5 min", "sampling_interval": "2 min"},
                       monitoring={"n_confirm": 3})
    assert any("monitoring.n_confirm" in e for e in errors(text))


def test_unknown_names_suggest_the_nearest() -> None:
    assert any("did you mean 'ZnCl2'" in e for e in errors(recipe_yaml(salt__compound="ZnCl")))
    assert not any("did you mean" in e for e in errors(recipe_yaml(cluster__material="CdTe")))
    assert any("did you mean 'hexane'" in e for e in errors(recipe_yaml(cluster__solvent="hexan")))
    assert any("did you mean 'volume'" in e for e in errors(recipe_yaml(salt__volumn="1 mL")))


def test_in3_salt_is_marked_assumed() -> None:
    (msg,) = warnings_of(recipe_yaml(salt__compound="InCl3", back_exchange={"enabled": False}))
    assert "assumption" in msg


def test_bands_default_from_the_knowledge_base_per_phase() -> None:
    bands = load_recipe_text(recipe_yaml()).recipe.monitoring.bands
    assert bands is not None
    assert [b.m_as("nm") for b in bands.nonpolar] == [365, 335]
    assert bands.polar[0].m_as("nm") == 356


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029", "\x9b"])
def test_line_separators_and_c1_controls_are_refused_in_text(char: str) -> None:
    for field in ("name", "description"):
        escaped = f'"x\\u{ord(char):04x}y"'  # written as an escape: YAML would fold a raw one
        text = recipe_yaml(**{field: "PLACEHOLDER"}).replace("PLACEHOLDER", escaped)
        assert any(field in e for e in errors(text)), field


def test_a_small_add_salt_rung_says_it_redoses_the_same_stock() -> None:
    sub = load_recipe("recipes/cds34-zncl2-subthreshold.yaml")
    small = [w for w in sub.warnings if w.path.startswith("on_stall")]
    assert len(small) == 1 and "of the same salt stock (0.1 mM)" in small[0].message
    assert "+0.167 Zn per cluster on the 5 at the start" in small[0].message
    reference = load_recipe("recipes/cds34-zncl2.yaml")
    assert not [w for w in reference.warnings if w.path.startswith("on_stall")]


def test_clusters_too_concentrated_to_read_are_refused_before_anything_runs() -> None:
    found = errors(recipe_yaml(cluster__concentration="20 mM"))
    unreadable = [e for e in found if "cluster.concentration" in e]
    assert len(unreadable) == 1
    assert "would read 400 AU in the 2 mm flow cell" in unreadable[0]
    assert "use at most ~125 µM" in unreadable[0]
    dark = warnings_of(recipe_yaml(cluster__concentration="100 uM", salt__concentration="0.25 M"))
    assert any("reads will be dark and noisy" in w for w in dark)


def test_clusters_too_dilute_to_confirm_warn() -> None:
    faint = warnings_of(recipe_yaml(cluster__concentration="2 uM", salt__concentration="5 mM"))
    assert any("would read 0.04 AU" in w and "within the noise" in w for w in faint)
    assert not any("AU" in w for w in warnings_of(recipe_yaml()))


def test_another_materials_bands_pasted_in_are_an_error() -> None:
    found = errors(recipe_yaml(cluster__material="CdSe", cluster__solvent="hexene",
                               cluster__ligand="OTA",
                               monitoring__bands={"nonpolar": ["365 nm", "335 nm"],
                                                  "polar": ["356 nm", "327.4 nm"]}))
    assert any("monitoring.bands.nonpolar" in e and "(CdS)34's bands (365/335 nm)" in e
               and "(CdSe)34 (415 nm)" in e for e in found)


def test_a_polar_phase_the_paper_does_not_use_warns_that_it_is_assumed() -> None:
    for solvent in ("NMF", "DMSO", "acetonitrile", "water"):
        warned = warnings_of(recipe_yaml(salt__solvent=solvent))
        assert any("salt.solvent" in w and "the paper runs the exchange in DMF only" in w
                   for w in warned), solvent
    assert not any("DMF only" in w for w in warnings_of(recipe_yaml()))
