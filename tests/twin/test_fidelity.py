"""One test per claim of the paper (Ge et al., Chem. Sci. 2022), run on the twin through the
real analysis and decision logic; plus the guards that must never let a bad sample confirm."""

from __future__ import annotations

import numpy as np
import pytest

from mscrobot.app.bench import Bench
from mscrobot.app.dryrun import simulate
from mscrobot.chemistry import SALTS, SOLVENTS
from mscrobot.decide.observations import Stage
from mscrobot.decide.records import back_exchange_record
from mscrobot.decide.rules import baseline_of, degradation_signs
from mscrobot.decide.verdicts import Action, State
from mscrobot.recipe import Recipe, load_recipe, load_recipe_text
from mscrobot.twin.params import TwinParams
from tests.recipe.helpers import recipe_yaml

REFERENCE = load_recipe("recipes/cds34-zncl2.yaml").recipe


def recipe_with(**changes: object) -> Recipe:
    return load_recipe_text(recipe_yaml(**changes)).recipe


def test_cds34_bands_at_365_and_335_nm_in_hexane() -> None:
    loop = Bench(REFERENCE, seed=3)
    sample = loop.sample("nonpolar")
    fitted = [b.position_nm for b in sample.sets["nonpolar"]]
    assert fitted == pytest.approx([365.0, 335.0], abs=1.0)
    assert sample.sets["polar"][0].height < 0.02


def test_main_band_near_356_nm_in_dmf_after_transfer() -> None:
    run = simulate(REFERENCE, seed=4)
    dmf = run.forward[-1].observation.samples["polar"]
    assert dmf is not None
    assert dmf.sets["polar"][0].position_nm == pytest.approx(356.0, abs=1.0)
    assert dmf.sets["nonpolar"][0].height < 0.02


def test_hexane_colourless_after_transfer_is_complete() -> None:
    run = simulate(REFERENCE, seed=5)
    last = run.forward[-1]
    assert last.verdict.state == State.COMPLETE
    assert last.truth.transfer >= 0.95
    hexane = last.observation.samples["nonpolar"]
    first = run.forward[0].observation.samples["nonpolar"]
    assert hexane is not None and first is not None
    assert hexane.sets["nonpolar"][0].height < 0.05 * first.sets["nonpolar"][0].height


@pytest.mark.parametrize("salt", ["ZnCl2", "Zn(NO3)2", "Zn(OTf)2", "Zn(OAc)2", "InCl3"])
def test_zinc_salts_transfer_cds34(salt: str) -> None:
    """Paper: ZnCl2, Zn(NO3)2, Zn(OTf)2, Zn(OAc)2; InCl3 is an assumed case."""
    recipe = recipe_with(salt__compound=salt, back_exchange={"enabled": False})
    run = simulate(recipe, seed=6)
    assert run.forward[-1].verdict.state == State.COMPLETE, run.forward[-1].verdict
    assert run.forward[-1].verdict.action == Action.FINISH
    assert run.forward[-1].truth.transfer >= 0.95


def test_subthreshold_salt_stalls_and_the_policy_applies() -> None:
    recipe = load_recipe("recipes/cds34-zncl2-subthreshold.yaml").recipe
    run = simulate(recipe, seed=7)
    states = [s.verdict.state for s in run.forward]
    actions = [s.verdict.action for s in run.forward]
    assert State.COMPLETE not in states
    assert State.STALLED in states
    assert Action.EXTEND in actions and Action.ADD_SALT in actions
    assert run.forward[-1].verdict.action == Action.STOP_FOR_OPERATOR
    assert run.end == "stopped"
    assert run.forward[-1].truth.transfer < 0.8


@pytest.mark.parametrize("salt", ["ZnCl2", "Zn(OTf)2", "Zn(OAc)2"])
def test_ola_returns_the_spectrum_to_the_pre_exchange_one(salt: str) -> None:
    recipe = recipe_with(salt__compound=salt)
    run = simulate(recipe, seed=8)
    assert run.forward[-1].verdict.state == State.COMPLETE
    assert run.back and run.back[-1].verdict.state == State.COMPLETE
    assert run.back[-1].verdict.numbers["position_shift_nm"] <= 3.0
    assert run.back[-1].truth.transfer < 0.2
    assert run.end == "finished"


def test_zn_retained_after_back_exchange_only_for_triflate_recorded_not_inferred() -> None:
    records = {name: back_exchange_record(SALTS[name]) for name in SALTS}
    retained = {name for name, r in records.items() if r["metal_retained"] is True}
    assert retained == {"Zn(OTf)2"}
    assert records["Zn(OTf)2"]["basis"] == "paper (ICP-OES), not the spectrum"
    assert records["Zn(NO3)2"]["metal_retained"] is None


def test_cds34_zncl2_held_60_h_in_dmf_is_not_degraded() -> None:
    loop = Bench(REFERENCE, seed=9)
    first = loop.observe(Stage.FORWARD, 0.0, ())
    base = baseline_of(first)
    assert base is not None
    loop.stir(1000.0, 600.0)
    signs = []
    for _ in range(16):  # every 4 h for 60 h
        loop.wait(4 * 3600.0)
        obs = loop.observe(Stage.FORWARD, 600.0, ())
        signs.extend(degradation_signs(obs, base, loop.settings))
        assert loop.vial.truth().degraded_fraction == 0.0
    assert signs == []


def test_cdse34_with_zncl2_and_zn_oac2_behave_alike() -> None:
    times = {}
    for name in ("cdse34-zncl2-hexene.yaml", "cdse34-zn-acetate-hexene.yaml"):
        run = simulate(load_recipe(f"recipes/{name}").recipe, seed=10)
        assert run.forward[-1].verdict.state == State.COMPLETE
        assert run.back[-1].verdict.state == State.COMPLETE
        times[name] = run.forward[-1].observation.stirred_s
    assert max(times.values()) <= 3 * min(times.values())


def test_hexane_is_the_top_layer() -> None:
    assert SOLVENTS["hexane"].density_g_per_ml.value < SOLVENTS["DMF"].density_g_per_ml.value
    loop = Bench(REFERENCE, seed=11)
    top = loop.vial.draw("nonpolar", 20.0, loop.t)
    assert top.solvent == "nonpolar" and top.c_nonpolar > 0 and top.c_polar == 0


# --- guards: these must never yield `complete` ------------------------------------------------

def _never_complete(params: TwinParams, seeds: range = range(3)) -> list[str]:
    ends = []
    for seed in seeds:
        run = simulate(REFERENCE, params, seed=seed)
        assert State.COMPLETE not in [s.verdict.state for s in run.forward]
        ends.append(run.end)
    return ends


def test_hexane_sample_carrying_dmf_droplets_never_confirms() -> None:
    ends = _never_complete(TwinParams(emulsion_fraction=0.08, settle_tau_s=3000.0,
                                      droplet_scatter_n=0.0, scatter_per_fraction=0.3))
    assert set(ends) == {"stopped"}


def test_air_filled_cell_never_confirms() -> None:
    assert set(_never_complete(TwinParams(air_probability=1.0))) == {"stopped"}


def test_persistent_emulsion_never_confirms() -> None:
    assert set(_never_complete(TwinParams(emulsion_fraction=0.05, settle_tau_s=5000.0))) == {
        "stopped"}


def test_twin_is_deterministic_per_seed() -> None:
    a = simulate(REFERENCE, seed=12)
    b = simulate(REFERENCE, seed=12)
    assert [s.verdict for s in a.forward] == [s.verdict for s in b.forward]
    ha = a.forward[1].observation.samples["nonpolar"]
    hb = b.forward[1].observation.samples["nonpolar"]
    assert ha is not None and hb is not None
    assert np.isclose(ha.sets["nonpolar"][0].height, hb.sets["nonpolar"][0].height)
