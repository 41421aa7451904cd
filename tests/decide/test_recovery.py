"""What the robot tries on an unreadable sample (decide/recovery.py): the evidence picks the
action, every action is bounded by the recipe, 0 turns it off, and a spent ladder gives None."""

from __future__ import annotations

import pytest

from mscrobot.decide.observations import Observation, Stage
from mscrobot.decide.recovery import Act, Fault, Recoverer, RecoveryBounds, diagnose
from mscrobot.recipe import load_recipe_text
from mscrobot.spectra.types import BandEstimate, SampleAnalysis, ScatterFit


def _sample(
    own: str,
    height: float,
    other: float = 0.0,
    scatter: float = 0.0,
    flags: frozenset[str] = frozenset(),
) -> SampleAnalysis:
    def band(h: float) -> tuple[BandEstimate, ...]:
        return (BandEstimate(350.0, 350.0, h, 12.0, 0.1, 0.001, True),)

    heights = {own: height, ("polar" if own == "nonpolar" else "nonpolar"): other}
    return SampleAnalysis(
        {k: band(v) for k, v in heights.items()},
        ScatterFit(0.0, scatter, 0.4, scatter, 0.001),
        0.0,
        0.001,
        0.0,
        None,
        0.0,
        flags,
    )


def _obs(nonpolar: SampleAnalysis, polar: SampleAnalysis) -> Observation:
    return Observation(
        Stage.FORWARD,
        600.0,
        240.0,
        {"nonpolar": nonpolar, "polar": polar},
        {"nonpolar": 1400.0, "polar": 1500.0},
    )


CLEAN_NP = _sample("nonpolar", 0.5)
CLEAN_P = _sample("polar", 0.4)


@pytest.mark.parametrize(
    ("obs", "fault", "phase"),
    [
        (
            _obs(_sample("nonpolar", 0.0, flags=frozenset({"no_solvent"})), CLEAN_P),
            Fault.AIR,
            "nonpolar",
        ),
        (_obs(CLEAN_NP, _sample("polar", 0.4, other=0.05)), Fault.DRAG, "polar"),
        (_obs(CLEAN_NP, _sample("polar", 0.4, scatter=0.2)), Fault.DRAG, "polar"),
        (_obs(_sample("nonpolar", 0.5, scatter=0.2), CLEAN_P), Fault.DROPLETS, "nonpolar"),
        (_obs(_sample("nonpolar", 0.5, other=0.05), CLEAN_P), Fault.CARRY_OVER, "nonpolar"),
        (
            _obs(_sample("nonpolar", 0.5, flags=frozenset({"low_signal"})), CLEAN_P),
            Fault.DIM,
            "nonpolar",
        ),
        (
            _obs(_sample("nonpolar", 0.5, flags=frozenset({"saturated", "no_solvent"})), CLEAN_P),
            Fault.OTHER,
            "nonpolar",
        ),
    ],
)
def test_the_evidence_names_the_fault(obs: Observation, fault: Fault, phase: str) -> None:
    assert diagnose(obs, 0.05, base_height=0.5) == (fault, phase)


def test_an_unreadable_first_sample_without_flags_is_noise() -> None:
    assert diagnose(_obs(CLEAN_NP, CLEAN_P), 0.05, base_height=None)[0] == Fault.NOISE


def _bounds(text: str = "") -> RecoveryBounds:
    recipe = load_recipe_text(
        f"""
name: t
cluster: {{material: CdS, concentration: 20 uM, volume: 1.5 mL}}
salt: {{compound: ZnCl2, concentration: 0.05 M, volume: 1.5 mL}}
{text}
""",
        "t.yaml",
    ).recipe
    return RecoveryBounds.from_recipe(recipe)


def test_a_drag_is_drawn_deeper_then_rinsed_then_settled_once_each_within_bounds() -> None:
    r = Recoverer(_bounds())
    acts = []
    while (a := r.next(Fault.DRAG, "polar", 4, room_mm=3.0, rinse_left=True)) is not None:
        acts.append((a.act, a.amount))
    assert acts == [
        (Act.RESAMPLE, 1.0),
        (Act.RESAMPLE, 2.0),
        (Act.FLUSH, 1),
        (Act.FLUSH, 2),
        (Act.SETTLE, 120.0),
        (Act.SETTLE, 240.0),
        (Act.SETTLE, 480.0),
        (Act.SETTLE, 600.0),
    ]
    assert r.depth_mm == 2.0 and r.rinses == {"polar": 2}
    assert r.settle_s == 60.0  # a polar-only settle is for that draw, not the rest of the run
    assert "drew the polar phase 2 mm further from the interface" in r.tried


def test_no_room_below_and_no_blank_left_skip_those_actions() -> None:
    r = Recoverer(_bounds())
    a = r.next(Fault.DRAG, "polar", 4, room_mm=0.5, rinse_left=False)
    assert a is not None and a.act == Act.SETTLE


def test_an_emulsion_settles_longer_for_the_rest_of_the_run_up_to_settle_max() -> None:
    r = Recoverer(_bounds("monitoring: {recovery: {settle_max: 5 min}}"))
    amounts = []
    while (a := r.next(Fault.DROPLETS, "nonpolar", 4, 3.0, True)) is not None:
        amounts.append((a.act, a.amount))
    assert amounts == [
        (Act.FLUSH, 1),
        (Act.FLUSH, 2),
        (Act.SETTLE, 120.0),
        (Act.SETTLE, 240.0),
        (Act.SETTLE, 300.0),
    ]
    assert r.settle_s == 300.0


def test_reads_double_up_to_scans_max_and_integration_stays_in_the_linear_range() -> None:
    r = Recoverer(_bounds("monitoring: {recovery: {scans_max: 16}}"))
    reads = [a.amount for a in iter(lambda: r.next(Fault.NOISE, "nonpolar", 4, 3.0, True), None)]
    assert reads == [2, 4]  # 4 scans a read: 16 scans is 4 reads
    r = Recoverer(_bounds())
    assert r.next(Fault.DIM, "polar", 1, 3.0, True, longer_ms=None) is None
    a = r.next(Fault.DIM, "polar", 1, 3.0, True, longer_ms=7.5)
    assert a is not None and (a.act, a.amount) == (Act.INTEGRATE, 7.5)


def test_zero_turns_each_action_off() -> None:
    off = _bounds(
        "monitoring: {recovery: {resample: 0, flushes: 0, settle_max: 0 s, scans_max: 0}}"
    )
    assert not off.enabled
    r = Recoverer(off)
    for fault in Fault:
        assert r.next(fault, "polar", 1, 3.0, True, longer_ms=20.0) is None


def test_a_readable_sample_starts_a_fresh_streak_but_keeps_what_helped() -> None:
    r = Recoverer(_bounds())
    r.next(Fault.DRAG, "polar", 4, 3.0, True)
    r.readable()
    assert r.tried == [] and r.depth_mm == 1.0
    a = r.next(Fault.DRAG, "polar", 4, 3.0, True)
    assert a is not None and a.amount == 2.0  # deeper still, never past resample mm in all
    r.readable()
    a = r.next(Fault.DRAG, "polar", 4, 3.0, True)
    assert a is not None and a.act == Act.FLUSH
