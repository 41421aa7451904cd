"""The recipe check's dose warning and the twin's dose–response agree: no recipe passes the check
without a warning and then stalls in the twin, and every recipe the twin stalls was warned."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mscrobot.app.dryrun import simulate
from mscrobot.chemistry import CLUSTERS, SALTS
from mscrobot.chemistry.uptake import bound_loading, carried_fraction, equivalents_for
from mscrobot.decide.verdicts import State
from mscrobot.recipe import Recipe, load_recipe_text
from mscrobot.recipe.checks import DOSE_MARGIN, check_recipe, dose_needed
from mscrobot.twin.vial import VialTwin
from tests.recipe.helpers import recipe_yaml

#: (material, alkane, amine) of each cluster the twin knows.
CLUSTER_PHASES = {"CdS": ("hexane", "BTA"), "CdSe": ("hexene", "OTA"), "ZnSe": ("hexane", "BTA")}
CLUSTER_UM = 20.0
LOADINGS = (
    1.0,
    3.0,
    5.0,
    7.0,
    7.5,
    8.0,
    8.5,
    9.0,
    9.5,
    10.0,
    10.5,
    11.0,
    12.0,
    13.0,
    15.0,
    20.0,
    100.0,
    2500.0,
)


def _recipe(material: str, salt: str, eq: float) -> Recipe:
    solvent, ligand = CLUSTER_PHASES[material]
    molar = eq * CLUSTER_UM * 1e-6 * 1.5 / 1.5 / SALTS[salt].metal_per_formula
    return load_recipe_text(
        recipe_yaml(
            cluster__material=material,
            cluster__solvent=solvent,
            cluster__ligand=ligand,
            cluster__concentration=f"{CLUSTER_UM} uM",
            salt__compound=salt,
            salt__concentration=f"{molar:.6g} M",
        )
    ).recipe


def _dose_warned(recipe: Recipe) -> bool:
    return any(
        f.loc == ("salt", "concentration") and "per cluster" in f.message
        for f in check_recipe(recipe)
    )


def _left_after_max_time(recipe: Recipe) -> float:
    """Fraction of the intact clusters the twin leaves in the alkane after the recipe's whole
    stirring time at its stir rate (no faults): what the dose lets across."""
    vial = VialTwin(recipe)
    vial.set_stir(float(recipe.exchange.stir_rate.m_as("rpm")), 0.0)
    vial.advance(float(recipe.exchange.max_time.m_as("s")))
    return 1.0 - vial.truth().transfer


def _agree(recipe: Recipe) -> None:
    complete = recipe.monitoring.thresholds.complete_fraction
    warned, left = _dose_warned(recipe), _left_after_max_time(recipe)
    eq = recipe.equivalents_per_cluster()
    if not warned:  # passes the check: the twin carries the clusters across, with margin
        assert left <= DOSE_MARGIN * complete + 1e-3, (eq, left)
    if left > complete:  # stalls short of a confirmation in the twin: the check said so
        assert warned, (eq, left)


PAIRS = [
    (m, s)
    for m in CLUSTER_PHASES
    for s in SALTS
    if s in ("ZnCl2", "Zn(OAc)2", "InCl3") or m == "CdS"
]
#: One pair per cluster and an In3+ salt in the default run; the whole table is slow (~8 s).
FAST_PAIRS = {("CdS", "ZnCl2"), ("CdSe", "ZnCl2"), ("ZnSe", "ZnCl2"), ("CdS", "InCl3")}


@pytest.mark.parametrize(
    ("material", "salt"),
    [p if p in FAST_PAIRS else pytest.param(*p, marks=pytest.mark.slow) for p in PAIRS],
)
def test_a_table_of_loadings_agrees_between_the_check_and_the_twin(
    material: str, salt: str
) -> None:
    stalled = warned_only = 0
    for eq in LOADINGS:
        recipe = _recipe(material, salt, eq)
        assert recipe.equivalents_per_cluster() == pytest.approx(eq, rel=1e-4)
        _agree(recipe)
        stalled += _left_after_max_time(recipe) > recipe.monitoring.thresholds.complete_fraction
        warned_only += _dose_warned(recipe)
    assert stalled >= 5 and warned_only >= stalled  # the table reaches both sides of the edge


@settings(max_examples=60, deadline=None)
@given(pair=st.sampled_from(PAIRS), log_eq=st.floats(math.log(0.5), math.log(3000.0)))
def test_any_loading_agrees_between_the_check_and_the_twin(
    pair: tuple[str, str], log_eq: float
) -> None:
    _agree(_recipe(*pair, math.exp(log_eq)))


def test_8_eq_on_cds34_warns_now_that_the_twin_stalls_there() -> None:
    recipe = _recipe("CdS", "ZnCl2", 8.0)
    assert _dose_warned(recipe)
    assert _left_after_max_time(recipe) > 0.05  # the 8 eq run: "6 % left"
    assert not _dose_warned(_recipe("CdS", "ZnCl2", math.ceil(dose_needed(recipe) * 10) / 10))


def test_the_dose_response_is_the_bound_loading_with_an_assumed_shape() -> None:
    cds, cdse, znse = CLUSTERS["CdS34"], CLUSTERS["CdSe34"], CLUSTERS["ZnSe34"]
    zncl2 = SALTS["ZnCl2"]
    assert (bound_loading(cds, zncl2).value, bound_loading(cds, zncl2).source) == (7.5, "paper")
    assert "7.5 Zn atoms" in bound_loading(cds, zncl2).note  # the paper's own words
    assert bound_loading(cdse, zncl2).source == "derived"
    assert cdse.zn_loading_per_cluster.source == "derived"
    assert "14-31% Zn" in cdse.zn_loading_per_cluster.note
    assert bound_loading(cds, SALTS["InCl3"]).source == "assumed"
    assert bound_loading(znse, zncl2).source == "assumed"
    assert bound_loading(cds, SALTS["Zn(OTf)2"]).source == "assumed"
    for eq in (0.5, 3.0, 7.5, 9.0, 40.0):
        assert equivalents_for(carried_fraction(eq, 7.5), 7.5) == pytest.approx(eq)
    assert carried_fraction(7.5, 7.5) < 0.95 < carried_fraction(9.0, 7.5)


@pytest.mark.slow
@pytest.mark.parametrize(("eq", "confirms"), [(8.0, False), (9.1, True), (12.0, True)])
def test_the_whole_run_on_the_twin_stalls_exactly_where_the_check_warns(
    eq: float, confirms: bool
) -> None:
    recipe = _recipe("CdS", "ZnCl2", eq)
    assert _dose_warned(recipe) is not confirms
    run = simulate(recipe, seed=3)
    states = [d.verdict.state for d in run.forward]
    assert (State.COMPLETE in states) is confirms, states
    if not confirms:
        assert State.STALLED in states
