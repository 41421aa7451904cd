"""Verdict rules on exact inputs: each rule can fire, and each guard holds (DESIGN.md §4)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mscrobot.decide.observations import DecisionSettings, Observation, Stage
from mscrobot.decide.rules import judge_back, judge_forward, judge_forward_all
from mscrobot.decide.verdicts import (
    Action,
    IllegalTransitionError,
    State,
    check_transition,
)
from mscrobot.recipe import load_recipe
from mscrobot.spectra.types import SampleAnalysis
from tests.decide.synthetic import H0, analysis, obs

SETTINGS = DecisionSettings.from_recipe(load_recipe("recipes/cds34-zncl2.yaml").recipe)


def run(*observations):
    return judge_forward_all(list(observations), SETTINGS)


def test_pre_exchange_sample_starts_the_run() -> None:
    (v,) = run(obs(1.0, 0.0, 0))
    assert (v.state, v.action) == (State.NOT_STARTED, Action.CONTINUE)


def test_transfer_in_progress_then_complete_after_n_confirm() -> None:
    vs = run(obs(1.0, 0.0, 0), obs(0.5, 0.48, 2), obs(0.03, 0.95, 4), obs(0.01, 0.97, 6))
    assert [v.state for v in vs] == [State.NOT_STARTED, State.IN_PROGRESS, State.IN_PROGRESS,
                                     State.COMPLETE]
    assert vs[-1].action == Action.START_BACK_EXCHANGE
    assert vs[-1].numbers["remaining"] == pytest.approx(0.01)


def test_amounts_not_absorbances_volume_changes_count() -> None:
    # same absorbance in the alkane, but half its volume was sampled away: half the amount
    vs = run(obs(1.0, 0.0, 0), obs(0.5, 0.5, 2, v_h=750.0))
    assert vs[-1].numbers["remaining"] == pytest.approx(0.5)


def test_colourless_alkane_without_a_polar_band_is_not_complete() -> None:
    # clusters vanished from hexane but never showed up in DMF: loss, not transfer
    vs = run(obs(1.0, 0.0, 0), obs(0.4, 0.1, 2), obs(0.02, 0.1, 4), obs(0.01, 0.1, 6))
    assert State.COMPLETE not in [v.state for v in vs]
    assert vs[-1].state == State.DEGRADED


def test_droplets_in_the_alkane_sample_are_ambiguous_never_progress() -> None:
    droplets = analysis(nonpolar=0.0, polar=0.2)
    vs = run(obs(1.0, 0.0, 0), obs(0.0, 0.9, 2, hexane=droplets),
             obs(0.0, 0.9, 2, hexane=droplets))
    assert [v.state for v in vs[1:]] == [State.AMBIGUOUS, State.AMBIGUOUS]
    assert vs[1].action == Action.RESETTLE


def test_alkane_dragged_into_the_polar_sample_is_ambiguous() -> None:
    dragged = analysis(nonpolar=0.1, polar=0.3)
    v = run(obs(1.0, 0.0, 0), obs(0.02, 0.9, 2, dmf=dragged))[-1]
    assert v.state == State.AMBIGUOUS and "dragged" in v.reasons[0]


@pytest.mark.parametrize("flag", ["no_solvent", "saturated", "low_signal", "nonfinite"])
def test_flagged_samples_are_refused(flag: str) -> None:
    bad = analysis(nonpolar=0.0, flags=frozenset({flag}))
    vs = run(obs(1.0, 0.0, 0), obs(0.0, 1.0, 2, hexane=bad), obs(0.0, 1.0, 4, hexane=bad))
    assert all(v.state == State.AMBIGUOUS for v in vs[1:])


def test_scatter_above_the_limit_means_resettle_not_stir() -> None:
    cloudy = analysis(nonpolar=0.0, scatter=0.2)
    v = run(obs(1.0, 0.0, 0), obs(0.0, 1.0, 2, hexane=cloudy))[-1]
    assert (v.state, v.action) == (State.AMBIGUOUS, Action.RESETTLE)


def test_persistent_ambiguity_stops_for_the_operator() -> None:
    cloudy = analysis(nonpolar=0.0, scatter=0.2)
    vs = run(obs(1.0, 0.0, 0), *[obs(0.0, 1.0, 2, hexane=cloudy)] * 6)
    assert vs[-1].action == Action.STOP_FOR_OPERATOR
    assert vs[-1].state == State.AMBIGUOUS


def test_ambiguous_sample_between_confirmations_does_not_count() -> None:
    cloudy = analysis(nonpolar=0.0, scatter=0.2)
    vs = run(obs(1.0, 0.0, 0), obs(0.02, 0.97, 2), obs(0.0, 0.97, 4, hexane=cloudy),
             obs(0.01, 0.98, 6))
    assert [v.state for v in vs[1:]] == [State.IN_PROGRESS, State.AMBIGUOUS, State.COMPLETE]


def test_stall_walks_up_the_policy_ladder() -> None:
    hist = [obs(1.0, 0.0, 0), obs(0.5, 0.5, 2), obs(0.35, 0.65, 4), obs(0.34, 0.66, 6),
            obs(0.34, 0.66, 8)]
    v = judge_forward(hist, SETTINGS)
    assert (v.state, v.action) == (State.STALLED, Action.EXTEND)
    hist += [obs(0.34, 0.66, 10, actions=("extend",)), obs(0.34, 0.66, 12, actions=("extend",)),
             obs(0.34, 0.66, 14, actions=("extend",))]
    v = judge_forward(hist, SETTINGS)
    assert (v.state, v.action) == (State.STALLED, Action.STOP_FOR_OPERATOR)


def test_time_cap_without_completion_is_stalled() -> None:
    hist = [obs(1.0, 0.0, 0), obs(0.6, 0.4, 10), obs(0.4, 0.6, 20), obs(0.2, 0.8, 30)]
    assert judge_forward(hist, SETTINGS).state == State.STALLED


def test_new_band_twice_is_degraded_once_is_not() -> None:
    odd = analysis(polar=H0 * 0.5, extra=0.05)
    vs = run(obs(1.0, 0.0, 0), obs(0.5, 0.5, 2, dmf=odd))
    assert vs[-1].state == State.IN_PROGRESS
    vs = run(obs(1.0, 0.0, 0), obs(0.5, 0.5, 2, dmf=odd), obs(0.3, 0.7, 4, dmf=odd))
    assert vs[-1].state == State.DEGRADED


def test_broadened_band_twice_is_degraded() -> None:
    wide = analysis(polar=H0 * 0.7, fwhm=12.0 * 1.6)
    vs = run(obs(1.0, 0.0, 0), obs(0.3, 0.7, 2, dmf=wide), obs(0.2, 0.8, 4, dmf=wide))
    assert vs[-1].state == State.DEGRADED


def test_complete_and_degraded_are_terminal() -> None:
    check_transition(State.IN_PROGRESS, State.COMPLETE)
    with pytest.raises(IllegalTransitionError):
        check_transition(State.COMPLETE, State.IN_PROGRESS)
    with pytest.raises(IllegalTransitionError):
        check_transition(State.DEGRADED, State.COMPLETE)
    vs = run(obs(1.0, 0.0, 0), obs(0.02, 0.97, 2), obs(0.01, 0.98, 4), obs(0.9, 0.1, 6))
    assert vs[-1].state == State.COMPLETE


def test_back_exchange_confirmed_against_the_runs_own_spectrum() -> None:
    forward = [obs(1.0, 0.0, 0), obs(0.02, 0.97, 2), obs(0.01, 0.98, 4)]
    back_ok = [obs(0.95, 0.02, 2, stage=Stage.BACK), obs(0.96, 0.01, 4, stage=Stage.BACK)]
    v = judge_back(forward, back_ok, SETTINGS)
    assert (v.state, v.action) == (State.COMPLETE, Action.FINISH)
    shifted = analysis(nonpolar=H0 * 0.95, shift=5.0)
    back_bad = [obs(0.95, 0.02, 2, stage=Stage.BACK, hexane=shifted),
                obs(0.95, 0.02, 4, stage=Stage.BACK, hexane=shifted)]
    assert judge_back(forward, back_bad, SETTINGS).state != State.COMPLETE


def test_back_exchange_needs_a_confirmed_forward_stage() -> None:
    forward = [obs(1.0, 0.0, 0), obs(0.5, 0.5, 2)]
    v = judge_back(forward, [obs(0.9, 0.0, 2, stage=Stage.BACK)], SETTINGS)
    assert v.action == Action.STOP_FOR_OPERATOR


def test_clusters_taken_by_samples_are_counted_out_of_the_mass_balance() -> None:
    # every sample takes 150 uL (10 %) of each phase, so 90 % of the clusters stay each time:
    # in-vial amounts fall to 0.81 and 0.729 of the initial, and the balance still holds
    hist = [obs(1.0, 0.0, 0), obs(0.405, 0.405, 2), obs(0.2 * 0.729, 0.8 * 0.729, 4)]
    hist = [replace(o, removed_ul={"nonpolar": 150.0, "polar": 150.0}) for o in hist]
    v = run(*hist)[-1]
    assert v.numbers["removed_by_samples"] > 0.1
    # within 2 %: the fitted ratio is a lower bound (2 sd under the one seen)
    assert v.numbers["total"] == pytest.approx(1.0, abs=0.02)
    assert v.numbers["remaining"] == pytest.approx(0.2, abs=0.01)
    assert v.state == State.IN_PROGRESS


def test_slow_transfer_stirs_longer_before_the_next_sample() -> None:
    slow = run(obs(1.0, 0.0, 0), obs(0.8, 0.2, 2))[-1]
    fast = run(obs(1.0, 0.0, 0), obs(0.2, 0.8, 2))[-1]
    interval = SETTINGS.sampling_interval_s
    assert slow.numbers["next_stir_s"] == pytest.approx(3 * interval)
    assert fast.numbers["next_stir_s"] == pytest.approx(interval)


def _precise(sample: SampleAnalysis, sd: float = 0.0002) -> SampleAnalysis:
    """The same analysis with band heights known to ``sd`` AU (a quiet, well-fitted read)."""
    sets = {name: tuple(replace(b, height_sd=sd) for b in bands)
            for name, bands in sample.sets.items()}
    return replace(sample, sets=sets)


def _quiet(remaining: float, polar: float, minutes: float) -> Observation:
    return obs(remaining, polar, minutes, hexane=_precise(analysis(nonpolar=H0 * remaining)),
               dmf=_precise(analysis(polar=H0 * polar)))


def test_loss_the_fitted_ratio_absorbed_is_not_confirmed() -> None:
    # clusters vanish from both phases from the start: the ratio polar/left falls sample by
    # sample (0.826, 0.813, 0.799), and the polar amount falls with the alkane already empty.
    # A ratio fitted on the early samples absorbs the loss and the balance looks fine; the
    # falling amount must withhold the confirmation, and three falls in a row are degradation.
    hist = [_quiet(1.0, 0.0, 0), _quiet(0.455, 0.45, 2), _quiet(0.043, 0.778, 6),
            _quiet(0.042, 0.765, 6)]
    vs = run(*hist)
    assert State.COMPLETE not in [v.state for v in vs]
    vs = run(*hist, _quiet(0.041, 0.752, 8))
    assert vs[-1].state == State.DEGRADED
    assert "falling" in vs[-1].reasons[0]


def test_ratio_that_only_fell_withholds_confirmation() -> None:
    # 0.826 with 70 % gone, then 0.81 and 0.806 with the alkane empty: the clusters that
    # crossed are going missing, though each step is within the noise of the amounts
    hist = [_quiet(1.0, 0.0, 0), _quiet(0.3, 0.578, 2), _quiet(0.043, 0.775, 6),
            _quiet(0.042, 0.772, 6)]
    assert State.COMPLETE not in [v.state for v in run(*hist)]


def test_steady_polar_amount_still_confirms() -> None:
    hist = [_quiet(1.0, 0.0, 0), _quiet(0.455, 0.45, 2), _quiet(0.043, 0.86, 6),
            _quiet(0.042, 0.861, 6)]
    assert run(*hist)[-1].state == State.COMPLETE


def test_high_ratio_from_a_sample_where_little_had_left_does_not_hold_back_completion() -> None:
    # the first ratio (0.98, with 31 % gone) carries the alkane amount's systematic error
    # three times over; taken at face value it would make a clean vial look 3 % short forever
    hist = [_quiet(1.0, 0.0, 0), _quiet(0.688, 0.305, 2), _quiet(0.22, 0.725, 6),
            _quiet(0.03, 0.90, 10), _quiet(0.02, 0.91, 10)]
    assert run(*hist)[-1].state == State.COMPLETE


def test_unexplained_spectrum_with_a_red_flank_is_degraded_not_intrusion() -> None:
    # damaged clusters in DMF: a red tail the fit partly places at the alkane band position
    # and a residual far above the pre-exchange one. Dragged alkane would fit cleanly.
    damaged = replace(analysis(nonpolar=0.06, polar=H0 * 0.8, red_tail=0.008), noise_rms=0.02)
    dragged = analysis(nonpolar=0.06, polar=H0 * 0.8)
    v = run(obs(1.0, 0.0, 0), obs(0.02, 0.8, 4, dmf=dragged))[-1]
    assert v.state == State.AMBIGUOUS
    vs = run(obs(1.0, 0.0, 0), obs(0.02, 0.8, 4, dmf=damaged), obs(0.02, 0.8, 6, dmf=damaged))
    assert [v.state for v in vs[1:]] == [State.IN_PROGRESS, State.DEGRADED]
    assert "unexplained" in " ".join(vs[-1].reasons)


def _residue(remaining: float, polar: float, minutes: float, fwhm: float) -> Observation:
    return obs(remaining, polar, minutes,
               hexane=_precise(analysis(nonpolar=H0 * remaining, fwhm=fwhm)),
               dmf=_precise(analysis(polar=H0 * polar)))


def test_a_broadened_residue_in_the_alkane_is_damage_not_completion() -> None:
    # damaged clusters stay behind: the few % left in the alkane fit 1.6x wide while the polar
    # band (mostly intact clusters) keeps its width. Too small for the width rule of a full
    # band, but the residue must withhold the confirmation, and twice it is degradation.
    hist = [_quiet(1.0, 0.0, 0), _quiet(0.455, 0.45, 2),
            _residue(0.043, 0.86, 6, 12.0 * 1.6), _residue(0.042, 0.861, 6, 12.0 * 1.6)]
    vs = run(*hist)
    assert State.COMPLETE not in [v.state for v in vs]
    assert vs[-1].state == State.DEGRADED
    assert "left in the alkane" in vs[-1].reasons[0]
    # the same residue at the clusters' own width confirms (test_steady_polar_amount…)
    clean = [*hist[:2], _residue(0.043, 0.86, 6, 12.0), _residue(0.042, 0.861, 6, 12.0)]
    assert run(*clean)[-1].state == State.COMPLETE


def test_a_broadened_residue_of_one_percent_still_withholds_completion() -> None:
    # the twin's case (benchmark offset 1, seed 1000133): 1.1 % left in the alkane fitting 1.8x
    # wide while 11 % of the clusters were damaged; under the 2 % floor it had confirmed
    hist = [_quiet(1.0, 0.0, 0), _quiet(0.455, 0.45, 2),
            _residue(0.011, 0.95, 6, 12.0 * 1.76), _residue(0.011, 0.951, 6, 12.0 * 1.76)]
    assert State.COMPLETE not in [v.state for v in run(*hist)]
    clean = [*hist[:2], _residue(0.011, 0.95, 6, 12.0), _residue(0.011, 0.951, 6, 12.0)]
    assert run(*clean)[-1].state == State.COMPLETE
