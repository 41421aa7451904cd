"""Phase-transfer and back-exchange verdicts from the run's history (pure; DESIGN.md §4).

Decisions are made on amounts (band height × tracked phase volume), not absorbances, relative to
the run's own pre-exchange alkane sample. A sample that cannot be trusted — flagged by the
analysis, scattering, or showing the other phase's bands — is ``ambiguous`` and never counts as
progress. ``complete`` needs ``n_confirm`` consecutive trustworthy samples in which the alkane
phase holds at most ``complete_fraction`` of its initial amount *and* the polar phase shows the
shifted band with the amount mass balance predicts (absorptivity ratio fitted from the run),
and the clusters in the vial are not falling from sample to sample (a loss the fitted ratio
absorbed). Degradation rules need two consecutive samples, so one odd spectrum cannot stop a run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mscrobot.decide.observations import DecisionSettings, Observation, refusal
from mscrobot.decide.verdicts import Action, State, Verdict, check_transition
from mscrobot.spectra.types import SampleAnalysis

NONPOLAR, POLAR = "nonpolar", "polar"
#: A band counts as present above this many standard deviations and this fraction of H0.
_SIGNIFICANT_SD, _SIGNIFICANT_FRACTION = 3.0, 0.02
#: Absorptivity ratio polar/alkane accepted from the fit (outside: the fit is not trusted).
_EPS_RANGE = (0.5, 2.0)
#: An other-phase band this much wider than the pre-exchange band is damage, not intrusion.
_INTRUDER_BROAD = 1.25
#: Systematic relative error of the alkane amount (tracked volumes, evaporation; assumed).
_ALKANE_SYSTEMATIC = 0.02
#: A fall of the clusters in the vial counts beyond this many sd, plus this relative error of
#: the absorptivity ratio on the amount that crossed, plus this floor (fractions of H0·V).
_FALL_SD, _FALL_EPS_ERROR, _FALL_FLOOR = 4.0, 0.1, 0.004
#: A fit residual this many times the pre-exchange one (and above this fraction of H0): the
#: cluster bands do not explain the spectrum. Undamaged twin samples stay below 1.9x.
_MISFIT, _MISFIT_FLOOR_FRACTION = 3.0, 0.005
#: Bands narrower than this fraction of H0 are not used to judge broadening.
_WIDTH_MIN_FRACTION = 0.3
#: Below that, the alkane's residue is still judged for width when it is measurable: 1 % of the
#: initial band and 10 sd of its own fit (assumed; clean residues fit at the initial width).
#: A confirmation takes the alkane below ~3 %, so a 2 % floor let a residue 1.8x broad at 1.1 %
#: (24 sd) through with 11 % of the clusters damaged.
_RESIDUE_MIN_FRACTION = 0.01
_RESIDUE_MIN_SIGMA = 10.0


@dataclass(frozen=True)
class Baseline:
    """The run's own pre-exchange alkane spectrum, the reference for every later judgement."""

    height: float
    amount: float
    fwhm_nm: float
    positions_nm: tuple[float, ...]
    noise_rms: float = 0.0  # fit residual of a spectrum the expected bands fully explain


@dataclass(frozen=True)
class Reading:
    """One trustworthy observation turned into fractions of the initial amount."""

    remaining: float  # alkane amount in the vial / initial alkane amount
    remaining_sd: float
    polar_raw: float  # polar amount in the vial / initial alkane amount, absorptivity ratio 1
    issues: tuple[str, ...]  # degradation signs seen in this sample
    removed: float = 0.0  # alkane amount taken out by samples so far / initial
    removed_polar_raw: float = 0.0  # polar amount taken out by samples so far / initial
    polar_sd: float = 0.0  # sd of polar_raw from the band fit

    def in_vial(self, eps: float) -> float:
        """Clusters still in the vial, as a fraction of the initial amount (samples removed)."""
        return max(1.0 - self.removed - self.removed_polar_raw / eps, 1e-9)

    def fractions(self, eps: float) -> tuple[float, float]:
        """(alkane, polar) shares of the clusters in the vial: sum to 1 without losses."""
        whole = self.in_vial(eps)
        return self.remaining / whole, self.polar_raw / eps / whole


def baseline_of(obs: Observation) -> Baseline | None:
    sample = obs.samples.get(NONPOLAR)
    if refusal(sample) is not None or sample is None or _bad_volumes(obs) is not None:
        return None
    band = sample.sets[NONPOLAR][0]
    volume = obs.volumes_ul[NONPOLAR]
    if not band.found or band.height <= 0:
        return None
    return Baseline(band.height, band.height * volume, band.fwhm_nm,
                    tuple(b.position_nm for b in sample.sets[NONPOLAR]), sample.noise_rms)


def _bad_volumes(obs: Observation) -> str | None:
    volumes = [obs.volumes_ul.get(p, math.nan) for p in obs.samples]
    if all(math.isfinite(v) and v > 0 for v in volumes):
        return None
    return f"tracked volumes {volumes} are not positive numbers"


def _trust(obs: Observation, base: Baseline, s: DecisionSettings) -> tuple[str, Action] | None:
    """Why this observation cannot be read as progress (and what to do), or None."""
    bad = _bad_volumes(obs)
    if bad is not None:
        return bad, Action.STOP_FOR_OPERATOR
    for phase, sample in obs.samples.items():
        why = refusal(sample)
        if why is not None:
            action = Action.RESETTLE if "no_solvent" not in why else Action.RESAMPLE
            return f"{phase} sample refused: {why}", action
        assert sample is not None
        if sample.scatter.at_band > s.scatter_limit:
            return (f"{phase} sample scatters {sample.scatter.at_band:.3f} AU "
                    f"(limit {s.scatter_limit}): droplets still settling", Action.RESETTLE)
        other = POLAR if phase == NONPOLAR else NONPOLAR
        intruder = sample.height(other)
        if (intruder > s.identity_fraction * base.height and _significant(sample, other, base)
                and not _broad(sample, other, base) and not _misfit(sample, base)):
            where = ("droplets of the polar phase or a wrong sampling depth" if phase == NONPOLAR
                     else "alkane dragged into the polar sample")
            return (f"{phase} sample shows the {other} bands ({intruder:.3f} AU): {where}",
                    Action.RESETTLE if phase == NONPOLAR else Action.RESAMPLE)
    return None


def _broad(sample: SampleAnalysis, band_set: str, base: Baseline) -> bool:
    """A band clearly wider than the clusters' own: damaged material (broadened bands, a red
    tail) fitted at the other phase's position, not the other phase itself. The fit holds
    widths near the expected one, so a 3x broader species comes out only ~1.4x wide."""
    return sample.sets[band_set][0].fwhm_nm > _INTRUDER_BROAD * base.fwhm_nm


def _misfit(sample: SampleAnalysis, base: Baseline, scale: float = 1.0) -> bool:
    """The expected bands leave this spectrum unexplained (fit residual several times the
    pre-exchange one): damaged clusters (a red tail, broadened or new bands), whose absorption
    the fit partly places at the other phase's band. Droplets or a dragged phase add bands the
    fit explains down to the noise."""
    limit = max((1 + scale * (_MISFIT - 1)) * base.noise_rms,
                scale * _MISFIT_FLOOR_FRACTION * base.height)
    return sample.noise_rms > limit


def _significant(sample: SampleAnalysis, band_set: str, base: Baseline) -> bool:
    band = sample.sets[band_set][0]
    return (band.found and band.height > _SIGNIFICANT_SD * max(band.height_sd, 1e-6)
            and band.height > _SIGNIFICANT_FRACTION * base.height)


def _read(obs: Observation, base: Baseline, s: DecisionSettings,
          removed: tuple[float, float] = (0.0, 0.0)) -> Reading:
    remaining = remaining_sd = polar_raw = polar_sd = 0.0
    for phase, sample in obs.samples.items():
        assert sample is not None
        band = sample.sets[phase][0]
        amount = max(band.height, 0.0) * obs.volumes_ul[phase] / base.amount
        if phase == NONPOLAR:
            remaining = amount
            remaining_sd = band.height_sd * obs.volumes_ul[phase] / base.amount
        else:
            polar_raw = amount
            polar_sd = band.height_sd * obs.volumes_ul[phase] / base.amount
    return Reading(remaining, remaining_sd, polar_raw, degradation_signs(obs, base, s),
                   removed[0] / base.amount, removed[1] / base.amount, polar_sd)


def degradation_signs(obs: Observation, base: Baseline, s: DecisionSettings,
                      scale: float = 1.0) -> tuple[str, ...]:
    """Signs of damaged clusters in one observation: a new band, a red tail, a broadened band.

    Judged only where a phase holds enough clusters for its band shape to mean something.
    ``scale`` < 1 lowers every threshold (a suspicion that withholds a confirmation).
    """
    issues: list[str] = []
    for phase, sample in obs.samples.items():
        if sample is None:
            continue
        band = sample.sets[phase][0]
        other = POLAR if phase == NONPOLAR else NONPOLAR
        if _significant(sample, other, base) and _broad(sample, other, base) and (
                sample.height(other) > scale * s.new_band_fraction * base.height):
            issues.append(f"broad absorption under the {phase} band "
                          f"({sample.sets[other][0].fwhm_nm:.0f} nm wide, "
                          f"{sample.height(other):.3f} AU)")
        if sample.extra_band_height > scale * s.new_band_fraction * base.height:
            # an analysis may see the extra absorption without placing its peak
            at = "" if sample.extra_band_nm is None else f" at {sample.extra_band_nm:.0f} nm"
            issues.append(f"new band{at} in the {phase} sample "
                          f"({sample.extra_band_height:.3f} AU)")
        if band.height > _WIDTH_MIN_FRACTION * base.height:
            if _misfit(sample, base, scale):
                issues.append(f"the cluster bands leave the {phase} spectrum unexplained "
                              f"(residual {sample.noise_rms / max(base.noise_rms, 1e-9):.1f}x "
                              "the pre-exchange one)")
            if sample.red_tail > scale * s.red_tail_fraction * base.height:
                issues.append(f"red tail {sample.red_tail:.3f} AU in the {phase} sample")
            if band.fwhm_nm > (1 + scale * (s.degraded_broadening - 1)) * base.fwhm_nm:
                issues.append(f"{phase} band {band.fwhm_nm:.1f} nm wide, "
                              f"{band.fwhm_nm / base.fwhm_nm:.2f}x the pre-exchange width")
        elif (phase == NONPOLAR and band.height > _RESIDUE_MIN_FRACTION * base.height
              and band.height > _RESIDUE_MIN_SIGMA * band.height_sd
              and band.fwhm_nm > (1 + scale * (s.degraded_broadening - 1)) * base.fwhm_nm):
            # damaged clusters do not cross: what stays in the alkane is enriched in them, so
            # a broadened residue shows damage the polar band (mostly intact) still hides
            issues.append(f"the clusters left in the alkane ({band.height:.3f} AU) show a band "
                          f"{band.fwhm_nm / base.fwhm_nm:.2f}x the pre-exchange width")
    return tuple(issues)


def _ratios(readings: Sequence[Reading]) -> list[tuple[float, float]]:
    """Each sample's polar amount per amount that left the alkane, with its sd (samples where
    less than 0.3 had left say too little). The sd counts the band fits and a systematic error
    of the alkane amount (tracked volumes), which the division by what left amplifies."""
    out = []
    for r in readings:
        left = 1 - r.remaining - r.removed
        if left > 0.3:
            ratio = (r.polar_raw + r.removed_polar_raw) / left
            alkane_sd = math.hypot(r.remaining_sd, _ALKANE_SYSTEMATIC * r.remaining)
            out.append((ratio, math.hypot(r.polar_sd, ratio * alkane_sd) / left))
    return out


def _epsilon(readings: Sequence[Reading]) -> float | None:
    """Polar/alkane absorptivity ratio from the run: polar amount per amount that left.

    Clusters held at the interface or lost only ever lower a sample's ratio, so the ratio is
    at least the highest lower bound (-2 sd) seen. A median of early samples would absorb an
    early-onset loss.
    """
    bounds = [ratio - 2.0 * sd for ratio, sd in _ratios(readings)]
    return max(bounds) if bounds else None


def _loss_may_predate_ratio(readings: Sequence[Reading]) -> bool:
    """The ratio never rose above the first sample's. Clusters leaving the interface raise it
    as the alkane empties; if it only fell, clusters may have been lost before that sample
    too, hidden in the ratio, and a falling amount cannot be taken as small."""
    ratios = [ratio for ratio, _ in _ratios(readings)]
    return len(ratios) >= 2 and max(ratios[1:]) <= ratios[0]


def _ratio_fell(readings: Sequence[Reading]) -> bool:
    """The ratio never rose and the latest is below the first by more than 2 sd: clusters
    went missing while they crossed (the loss a fitted ratio absorbs)."""
    ratios = _ratios(readings)
    if not _loss_may_predate_ratio(readings):
        return False
    (first, sd0), (last, sd1) = ratios[0], ratios[-1]
    return last < first - 2.0 * math.hypot(sd0, sd1)


def _ladder(obs: Observation, s: DecisionSettings) -> tuple[Action, str]:
    for action, times, _ in s.ladder:
        if action == "stop":
            break
        if obs.actions_taken.count(action) < times:
            return Action(action), f"policy: {action}"
    return Action.STOP_FOR_OPERATOR, "policy: stop for the operator"


def _granted_s(obs: Observation, s: DecisionSettings) -> float:
    extend = [amount for action, _, amount in s.ladder if action == "extend"]
    return s.max_stir_s + obs.actions_taken.count("extend") * (extend[0] if extend else 0.0)


def judge_forward(history: Sequence[Observation], s: DecisionSettings,
                  back_exchange: bool = True) -> Verdict:
    """The verdict on the last observation of the forward stage."""
    return judge_forward_all(history, s, back_exchange)[-1]


def judge_forward_all(history: Sequence[Observation], s: DecisionSettings,
                      back_exchange: bool = True) -> list[Verdict]:
    """Verdicts for every observation in order; a pure function of the history, so a resumed
    run re-derives exactly the verdicts it journaled."""
    judge = ForwardJudge(s, back_exchange)
    return [judge.feed(obs) for obs in history]


class ForwardJudge:
    """The forward-stage verdict state machine, fed one observation at a time."""

    def __init__(self, s: DecisionSettings, back_exchange: bool = True) -> None:
        self.s, self.back_exchange = s, back_exchange
        self.state = State.NOT_STARTED
        self.base: Baseline | None = None
        self.readings: list[Reading] = []
        self.since_action: list[Reading] = []
        self.actions: tuple[str, ...] = ()
        self.complete_streak = self.ambiguous_streak = 0
        self.last: Verdict | None = None
        self.removed = {NONPOLAR: 0.0, POLAR: 0.0}  # band height x volume taken by samples
        self.heights = {NONPOLAR: 0.0, POLAR: 0.0}  # last trustworthy band height per phase
        #: most sampling intervals stirred in one round when the rate predicts completion
        #: further away (the plan raises it while each sample costs a long settle)
        self.max_stir_steps = 3

    def feed(self, obs: Observation) -> Verdict:
        if self.last is not None and self.state in (State.COMPLETE, State.DEGRADED):
            return self.last
        if obs.actions_taken != self.actions:
            self.since_action, self.actions = [], obs.actions_taken
        self._count_removed(obs)
        verdict, reading, complete_sample = self._judge(obs)
        check_transition(self.state, verdict.state)
        self.state, self.last = verdict.state, verdict
        self.ambiguous_streak = self.ambiguous_streak + 1 if reading is None else 0
        if reading is not None:
            self.readings.append(reading)
            self.since_action.append(reading)
            self.complete_streak = self.complete_streak + 1 if complete_sample else 0
        return verdict

    def _count_removed(self, obs: Observation) -> None:
        """Clusters leave in every sample taken, trustworthy or not: amounts, not absorbances."""
        for phase, sample in obs.samples.items():
            if sample is not None and refusal(sample) is None:
                self.heights[phase] = max(sample.sets[phase][0].height, 0.0)
            self.removed[phase] += self.heights[phase] * obs.removed_ul.get(phase, 0.0)

    def _judge(self, obs: Observation) -> tuple[Verdict, Reading | None, bool]:
        s = self.s
        if self.base is None:
            self.base = baseline_of(obs)
            if self.base is None:
                stop = self.ambiguous_streak + 1 > s.max_resettles
                return Verdict(State.AMBIGUOUS,
                               Action.STOP_FOR_OPERATOR if stop else Action.RESAMPLE,
                               ("no readable cluster band in the pre-exchange alkane "
                                "sample",)), None, False
            b = self.base
            return Verdict(State.NOT_STARTED, Action.CONTINUE,
                           ("pre-exchange alkane spectrum recorded",),
                           {"initial_height": b.height, "initial_fwhm_nm": b.fwhm_nm}
                           ), None, False
        base = self.base
        distrust = _trust(obs, base, s)
        if distrust is not None:
            why, action = distrust
            if self.ambiguous_streak + 1 > s.max_resettles:
                action = Action.STOP_FOR_OPERATOR
                why += f"; {self.ambiguous_streak + 1} unreadable samples in a row"
            return Verdict(State.AMBIGUOUS, action, (why,)), None, False
        r = _read(obs, base, s, (self.removed[NONPOLAR], self.removed[POLAR]))
        eps = _epsilon([*self.readings, r])
        remaining, polar = r.fractions(_clip_eps(eps))
        total = remaining + polar
        numbers = {"remaining": remaining, "remaining_sd": r.remaining_sd / r.in_vial(
                       _clip_eps(eps)), "polar": polar, "polar_raw": r.polar_raw,
                   "total": total, "epsilon_ratio": _clip_eps(eps),
                   "removed_by_samples": r.removed + r.removed_polar_raw / _clip_eps(eps)}
        previous = self.readings[-1] if self.readings else None
        if r.issues and previous is not None and previous.issues:
            return Verdict(State.DEGRADED, Action.STOP_FOR_OPERATOR, r.issues, numbers), r, False
        lost_now = self._lost(r, eps, self.readings)
        if lost_now and previous is not None and self._lost(previous, eps, self.readings[:-1]):
            return Verdict(State.DEGRADED, Action.STOP_FOR_OPERATOR,
                           (f"absorbance lost without scatter: {total:.0%} of the clusters "
                            "accounted for",), numbers), r, False
        # a falling amount: loss the ratio may have absorbed (early onset), or one already
        # beyond what the recipe tolerates
        hidden = _loss_may_predate_ratio([*self.readings, r])
        falling = previous is not None and _falling(previous, r, _clip_eps(eps)) and (
            hidden or total < 1 - 0.5 * s.degraded_loss)
        if falling and len(self.readings) >= 2 and _falling(
                self.readings[-2], previous, _clip_eps(eps)) and (
                hidden or total < 1 - s.degraded_loss):
            return Verdict(State.DEGRADED, Action.STOP_FOR_OPERATOR,
                           (f"cluster amount falling on three samples in a row without "
                            f"scatter: {total:.0%} accounted for",), numbers), r, False
        # a confirmation is withheld on half the evidence that would call the vial degraded,
        # and while the amount in the vial falls (loss that a fitted ratio may have absorbed)
        suspicious = degradation_signs(obs, base, s, scale=0.5) or self._lost(
            r, eps, self.readings, scale=0.5) or falling or _ratio_fell([*self.readings, r])
        clean = not r.issues and not lost_now and not suspicious
        sd = numbers["remaining_sd"]
        if (clean and remaining + 2.0 * sd <= s.complete_fraction
                and polar >= (1 - s.mass_balance_tolerance) * (1 - remaining)
                and r.polar_raw / r.in_vial(_clip_eps(eps)) >= 0.5):
            confirmations = self.complete_streak + 1
            if confirmations >= s.n_confirm:
                action = Action.START_BACK_EXCHANGE if self.back_exchange else Action.FINISH
                return Verdict(State.COMPLETE, action,
                               (f"alkane holds {remaining:.1%} of the clusters and the polar "
                                f"phase {polar:.0%}, on {confirmations} samples in a row",),
                               numbers), r, True
            # confirm with a fresh, independent sample now: more stirring cannot undo a
            # finished transfer, and the confirmation guards against a bad read, not chemistry
            return Verdict(State.IN_PROGRESS, Action.RESAMPLE,
                           (f"alkane holds {remaining:.1%}: confirming with a fresh sample "
                            f"({confirmations}/{s.n_confirm})",), numbers), r, True
        if obs.stirred_s >= _granted_s(obs, s) - 1e-6:
            action, why = _ladder(obs, s)
            return Verdict(State.STALLED, action,
                           (f"stirred {obs.stirred_s / 60:.0f} min without completing; {why}",),
                           numbers), r, False
        window = [*self.since_action, r][-s.stall_samples:]
        shares = [w.fractions(_clip_eps(eps))[0] for w in window]
        change = shares[0] - shares[-1]
        if len(window) >= s.stall_samples and remaining > 0.05 and change < s.stall_change:
            action, why = _ladder(obs, s)
            numbers["change"] = change
            return Verdict(State.STALLED, action,
                           (f"alkane share moved {change:.1%} over {len(window)} samples with "
                            f"{remaining:.0%} left; {why}",), numbers), r, False
        numbers["next_stir_s"] = self._next_stir_s(obs, remaining)
        return Verdict(State.IN_PROGRESS, Action.CONTINUE,
                       (f"alkane holds {remaining:.0%}, polar phase {polar:.0%}",),
                       numbers), r, False

    def _next_stir_s(self, obs: Observation, remaining: float) -> float:
        """How long to stir before the next sample: one sampling interval, or up to three
        when the run's own first-order rate predicts completion further away (fewer samples
        drawn, less time settling). Never past the stirring time granted."""
        s = self.s
        interval = s.sampling_interval_s
        left = max(_granted_s(obs, s) - obs.stirred_s, interval)
        if obs.stirred_s <= 0 or not 0 < remaining < 1:
            return min(interval, left)
        rate = -math.log(remaining) / obs.stirred_s  # since the start: robust, if slow-biased
        target = 0.5 * s.complete_fraction
        if rate <= 0 or remaining <= target:
            return min(interval, left)
        predicted = math.log(remaining / target) / rate
        steps = max(1, min(self.max_stir_steps, math.floor(predicted / interval)))
        return min(steps * interval, left)

    def _lost(self, r: Reading, eps: float | None, before: Sequence[Reading],
              scale: float = 1.0) -> bool:
        """Clusters missing from both phases (trustworthy samples only, so not scatter).

        Judged two ways, so a biased absorptivity fit can hide neither: the total against the
        best total seen earlier in the run (a fall), and the alkane emptying while the polar
        phase shows far less than any plausible absorptivity ratio allows.
        """
        if eps is not None and eps < _EPS_RANGE[0] and r.remaining < 0.7:
            return True
        e = _clip_eps(eps)
        total = sum(r.fractions(e))
        best = max((sum(b.fractions(e)) for b in before), default=1.0)
        return total < min(best, 1.0) - scale * self.s.degraded_loss


def _total_sd(r: Reading, eps: float) -> float:
    return math.hypot(r.remaining_sd, r.polar_sd / eps) / r.in_vial(eps)


def _falling(before: Reading, after: Reading, eps: float) -> bool:
    """The clusters in the vial (samples counted out) fell between two samples beyond their
    noise. Clean transfer only moves clusters between phases, so their sum holds; loss lowers
    it. Insensitive to a biased absorptivity ratio while the alkane is nearly empty; the
    allowance grows with the amount that crossed between the samples."""
    crossed = abs(after.polar_raw + after.removed_polar_raw - before.polar_raw
                  - before.removed_polar_raw) / eps
    allowed = (_FALL_SD * math.hypot(_total_sd(before, eps), _total_sd(after, eps))
               + _FALL_EPS_ERROR * crossed + _FALL_FLOOR)
    return sum(after.fractions(eps)) < sum(before.fractions(eps)) - allowed


def _clip_eps(eps: float | None) -> float:
    return 1.0 if eps is None else min(max(eps, _EPS_RANGE[0]), _EPS_RANGE[1])


def judge_back(forward: Sequence[Observation], back: Sequence[Observation],
               s: DecisionSettings) -> Verdict:
    """The verdict on the last back-exchange observation, against the pre-exchange spectrum."""
    return judge_back_all(forward, back, s)[-1]


def judge_back_all(forward: Sequence[Observation], back: Sequence[Observation],
                   s: DecisionSettings) -> list[Verdict]:
    """Back-exchange verdicts, confirmed against the forward stage's own baseline: bands back
    within the tolerance of the pre-exchange positions and the clusters the polar phase held
    when OLA went in recovered in the alkane (samples taken since are not yet counted out)."""
    judge = ForwardJudge(s)
    last_forward = None
    for obs in forward:
        last_forward = judge.feed(obs)
    base = judge.base  # the first readable pre-exchange sample, as the forward stage used
    verdicts: list[Verdict] = []
    if base is None or last_forward is None or last_forward.state != State.COMPLETE:
        return [Verdict(State.AMBIGUOUS, Action.STOP_FOR_OPERATOR,
                        ("back-exchange needs a confirmed forward exchange",))] * max(len(back), 1)
    # clusters in the polar phase when OLA went in, as a fraction of the initial amount
    numbers = last_forward.numbers
    polar_before = numbers.get("polar_raw", 1.0) / numbers.get("epsilon_ratio", 1.0)
    streak = streak_ambiguous = 0
    state = State.NOT_STARTED
    prev_issues: tuple[str, ...] = ()
    for obs in back:
        if state in (State.COMPLETE, State.DEGRADED):
            verdicts.append(verdicts[-1])
            continue
        verdict, reading = _judge_back_one(obs, base, polar_before, s, streak,
                                           streak_ambiguous, prev_issues)
        check_transition(state, verdict.state)
        state = verdict.state
        verdicts.append(verdict)
        streak_ambiguous = streak_ambiguous + 1 if reading is None else 0
        if reading is not None:
            streak = streak + 1 if verdict.numbers.get("_complete_sample") else 0
            prev_issues = reading.issues
    return [Verdict(v.state, v.action, v.reasons,
                    {k: n for k, n in v.numbers.items() if not k.startswith("_")})
            for v in verdicts]


def _judge_back_one(obs: Observation, base: Baseline, polar_before: float,
                    s: DecisionSettings, streak: int, streak_ambiguous: int,
                    prev_issues: tuple[str, ...]) -> tuple[Verdict, Reading | None]:
    distrust = _trust(obs, base, s)
    if distrust is not None:
        why, action = distrust
        if streak_ambiguous + 1 > s.max_resettles:
            action = Action.STOP_FOR_OPERATOR
        return Verdict(State.AMBIGUOUS, action, (why,)), None
    r = _read(obs, base, s)
    sample = obs.samples[NONPOLAR]
    assert sample is not None
    recovery = r.remaining / max(polar_before, 1e-9)
    shifts = [abs(b.position_nm - p) for b, p in zip(sample.sets[NONPOLAR], base.positions_nm,
                                                       strict=False) if b.found]
    worst = max(shifts) if shifts else math.inf
    numbers = {"recovery": recovery, "position_shift_nm": worst, "remaining": r.remaining,
               "polar_raw": r.polar_raw}
    if r.issues and prev_issues:
        return Verdict(State.DEGRADED, Action.STOP_FOR_OPERATOR, r.issues, numbers), r
    if recovery >= s.back_min_recovery and worst <= s.back_position_tolerance_nm:
        numbers["_complete_sample"] = 1.0
        if streak + 1 >= s.back_n_confirm:
            return Verdict(State.COMPLETE, Action.FINISH,
                           (f"{recovery:.0%} back in the alkane phase, bands within "
                            f"{worst:.1f} nm of the pre-exchange spectrum",), numbers), r
        return Verdict(State.IN_PROGRESS, Action.CONTINUE,
                       (f"{recovery:.0%} back: confirming ({streak + 1}/{s.back_n_confirm})",),
                       numbers), r
    if obs.stirred_s >= s.back_max_stir_s - 1e-6:
        return Verdict(State.STALLED, Action.STOP_FOR_OPERATOR,
                       (f"only {recovery:.0%} back after {obs.stirred_s / 60:.0f} min",),
                       numbers), r
    return Verdict(State.IN_PROGRESS, Action.CONTINUE, (f"{recovery:.0%} back so far",),
                   numbers), r
