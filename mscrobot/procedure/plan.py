"""A recipe as a plan: a generator of steps whose monitoring loop is driven by the verdicts.

Like a bluesky plan, it only yields steps and receives their outcomes; it never touches a device,
file or clock. Each step travels with the stage it belongs to (``PlannedStep``), so whoever
executes the stream (the engine, stopping between stages) or wraps it (a campaign gating steps
on shared resources) needs nothing else from the plan. The engine executes the steps
(journaling each one); a dry run, a test or the twin's monitoring loop can execute the same plan
on a simulated lab. Because the plan is a pure function of the outcomes it is sent, a resumed
run replays the journaled outcomes into a fresh plan and arrives at exactly the step where it
stopped. Each outcome carries its step's typed result (``procedure/results.py``).

Volumes the decisions see are the plan's own ledger of what it did (dispensed, sampled,
returned, and an evaporation estimate), never read back from a simulator's truth.

An unreadable sample (an ``ambiguous`` verdict) is first met with the recovery the evidence
points to (``decide/recovery.py``, bounded by the recipe's ``monitoring.recovery``): a polar
draw further below the interface, rinses of the cell with the phase's blank before each draw,
a longer settle, more reads averaged, a blank's reference at a longer integration. Each is made
of ordinary steps (samples, discards, settles, measures, references), so it is journaled,
resumed and checked by Opentrons like any other; the plan asks only for what its ledger says
the lab can do (room below the usual tip height, a blank left to rinse with). Once nothing that
could help is left, the rules' own bound on unreadable samples in a row asks the operator, and
the question lists what was tried.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

from mscrobot.decide.observations import DecisionSettings, Observation, Stage
from mscrobot.decide.recovery import (
    LADDERS,
    LINEAR_FRACTION,
    Act,
    Recoverer,
    RecoveryAction,
    RecoveryBounds,
    diagnose,
)
from mscrobot.decide.rules import ForwardJudge, judge_back
from mscrobot.decide.verdicts import Action, State, Verdict
from mscrobot.procedure.reading import AnalysisWindows, analysis_windows, read_sample
from mscrobot.procedure.results import Handled
from mscrobot.procedure.steps import (
    OPERATOR_CHOICES,
    AskOperator,
    Decide,
    Discard,
    Dispense,
    Measure,
    Outcome,
    R,
    Reference,
    Sample,
    Settle,
    Step,
    Stir,
    StopStir,
    Transfer,
    Wait,
)
from mscrobot.recipe.amounts import ola_volume_ul
from mscrobot.recipe.models import Recipe
from mscrobot.recipe.timings import timings
from mscrobot.recipe.vessels import BOTTOM_CLEARANCE_MM, VIAL_TYPES
from mscrobot.spectra.types import SampleAnalysis, Spectrum

#: Assumed (DESIGN.md §6): 2 % of the polar volume's worth of alkane dissolves into it at first
#: contact, and the alkane evaporates at ~0.3 µL/min from a capped vial (1.5× while stirring).
MUTUAL_SOLUBILITY_FRACTION = 0.02
EVAPORATION_UL_PER_MIN = 0.3
STIRRING_EVAPORATION_FACTOR = 1.5
#: A bound on monitoring rounds per stage, so a confused run ends instead of looping.
MAX_ROUNDS = 200
RESAMPLE_WAIT_S = {Stage.FORWARD: 30.0, Stage.BACK: 10.0}
#: Kept between the deepest draw the plan asks for and the vial's bottom clearance (mm).
ROOM_MARGIN_MM = 0.3

#: The deck roles a lab must provide (the lab config maps each to a deck position; the vial
#: types a recipe names are ``mscrobot.recipe.vessels.VIAL_TYPES``).
#: ``blank_vial`` is an empty vial in which the plan mixes the hexane + OLA blank.
DECK_ROLES = ("reaction", "salt_stock", "cluster_stock", "hexane_stock", "ola_stock",
              "blank_vial", "flow_cell", "waste")
#: Where each blank comes from: the stocks are the blanks (the salt stock is salt in the polar
#: solvent at the recipe's concentration); the OLA blank is mixed in ``blank_vial``.
BLANK_SOURCES = {"nonpolar": "hexane_stock", "polar_salt": "salt_stock",
                 "nonpolar_ola": "blank_vial"}
#: The hexane + OLA blank: OLA at the vial's volume fraction in at most ``BLANK_MAX_UL`` of
#: blank, and at least ``BLANK_OLA_MIN_UL`` of OLA, the least a standard single-channel
#: pipette above a P20 (a P300) dispenses. Below 1 % OLA that would take more than the largest
#: blank; the tint is then under ~0.005 AU and the hexane reference serves.
BLANK_MIN_UL, BLANK_MAX_UL = 100.0, 2000.0
BLANK_OLA_MIN_UL = 20.0

#: The plan's stages in order: ``setup`` (the blanks' references, then salt solution and
#: clusters into the vial), ``forward`` (monitoring the exchange into the polar phase) and
#: ``back`` (hexane and OLA in, monitoring the return). A run can be stopped between them.
STAGES = ("setup", str(Stage.FORWARD), str(Stage.BACK))


@dataclass(frozen=True)
class PlannedStep:
    """A step as a plan yields it, with the stage it belongs to (one of ``STAGES``; a plan
    without stages is all the first). The stage is not part of the step: it is never journaled
    with the step's params, which a resume compares with the journal."""

    step: Step[Any]
    stage: str = STAGES[0]


T = TypeVar("T")
#: A stream of planned steps, each answered with its outcome, returning ``T``.
PlanStream = Generator[PlannedStep, Outcome[Any], T]
PlanGenerator = PlanStream["PlanResult"]


class Plan(Protocol):
    """What the engine executes: anything whose ``steps()`` is a stream of planned steps."""

    def steps(self) -> PlanGenerator: ...


def recipe_stages(recipe: Recipe) -> tuple[str, ...]:
    """The stages a run of ``recipe`` may go through (the back-exchange only when enabled)."""
    return STAGES if recipe.back_exchange.enabled else STAGES[:2]


@dataclass
class PlanResult:
    end: str  # finished | operator_aborted | round_limit
    forward: list[Verdict] = field(default_factory=list)
    back: list[Verdict] = field(default_factory=list)


@dataclass
class Ledger:
    """Phase volumes in the reaction vial as the plan accounts for them (µL)."""

    nonpolar: float = 0.0
    polar: float = 0.0
    stirring: bool = False
    t: float = 0.0

    def elapse(self, t: float) -> None:
        """Count the alkane evaporated between the last outcome and ``t``."""
        rate = EVAPORATION_UL_PER_MIN * (STIRRING_EVAPORATION_FACTOR if self.stirring else 1.0)
        self.nonpolar -= rate * max(t - self.t, 0.0) / 60.0
        self.t = t

    def as_dict(self) -> dict[str, float]:
        return {"nonpolar": self.nonpolar, "polar": self.polar}


def worst_case_volumes(recipe: Recipe) -> dict[str, float]:
    """The most each vessel may give or receive in this recipe (µL), every policy rung used."""
    salt = float(recipe.salt.volume.m_as("uL"))
    added = sum(float(a.volume.m_as("uL")) * a.times for a in recipe.on_stall
                if a.action == "add_salt")
    cluster = float(recipe.cluster.volume.m_as("uL"))
    be = recipe.back_exchange
    hexane = float(be.hexane_volume.m_as("uL")) if be.enabled else 0.0
    ola = ola_volume_ul(recipe) if be.enabled else 0.0
    sample = float(recipe.monitoring.sample_volume.m_as("uL"))
    ola_blank = BLANK_MAX_UL if be.enabled else 0.0
    # one unreadable streak's rinses (the plan rinses only while a blank can still give one)
    rinses = recipe.monitoring.recovery.flushes * sample
    return {"salt_stock": salt + added + sample + rinses, "cluster_stock": cluster,
            "hexane_stock": hexane + sample + ola_blank + rinses,
            "ola_stock": ola + (BLANK_MIN_UL if be.enabled else 0.0),
            "blank_vial": ola_blank, "reaction": salt + added + cluster + hexane + ola,
            "flow_cell": sample}


class ExchangePlan:
    """The steps of one recipe: prepare the vial, monitor the exchange, then the back-exchange."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.settings = DecisionSettings.from_recipe(recipe)
        self.windows: AnalysisWindows = analysis_windows(recipe)
        self.ledger = Ledger()
        #: (dark, reference) of each blank, from its Reference step's outcome
        self.references: dict[str, tuple[Spectrum, Spectrum]] = {}
        self.nonpolar_blank = "nonpolar"
        self.sample_ul = float(recipe.monitoring.sample_volume.m_as("uL"))
        self.observations: dict[Stage, list[Observation]] = {Stage.FORWARD: [], Stage.BACK: []}
        self.result = PlanResult("not_started")  # the verdicts so far, while the plan runs
        #: the stage the plan is in (one of ``STAGES``), stamped on each step it yields
        self.stage = STAGES[0]
        #: the liquid handler's volumes after its last step (what a stock can still give)
        self.vessels: dict[str, float] = {}
        #: what the robot tries on an unreadable sample before asking (``decide/recovery.py``)
        self.recovery = Recoverer(RecoveryBounds.from_recipe(recipe))
        #: scans the spectrometer averages per read (from the references)
        self.scans_per_read = 1

    # --- plumbing ---------------------------------------------------------------------------

    def _do(self, step: Step[R]) -> PlanStream[R]:
        """Yield ``step`` in the current stage; its result, once executed."""
        outcome = yield PlannedStep(step, self.stage)
        self.ledger.elapse(outcome.t)
        result: R = outcome.result
        if isinstance(result, Handled) and result.vessels is not None:
            self.vessels = dict(result.vessels)
        return result

    def _stir_for(self, rpm: float, seconds: float) -> PlanStream[None]:
        yield from self._do(Stir(rpm))
        self.ledger.stirring = True
        yield from self._do(Wait(seconds, "stirring"))
        yield from self._do(StopStir())
        self.ledger.stirring = False

    def _dispense(self, source: str, volume: float, liquid: str, layer: str
                  ) -> PlanStream[None]:
        yield from self._do(Dispense(source, "reaction", volume, liquid, layer))
        setattr(self.ledger, layer, getattr(self.ledger, layer) + volume)

    def _observe(self, stage: Stage, stirred: float, actions: tuple[str, ...]
                 ) -> PlanStream[Observation]:
        samples: dict[str, SampleAnalysis | None] = {}
        removed: dict[str, float] = {}
        for phase in self.recipe.monitoring.phases:
            yield from self._rinse(phase)
            depth = min(self.recovery.depth_mm, self._room_mm()) if phase == "polar" else 0.0
            yield from self._do(Sample(phase, self.sample_ul, depth_mm=max(depth, 0.0)))
            setattr(self.ledger, phase, getattr(self.ledger, phase) - self.sample_ul)
            blank = self.nonpolar_blank if phase == "nonpolar" else "polar_salt"
            dark, reference = self.references[blank]
            reads = []
            for _ in range(self.recovery.reads):
                read = yield from self._do(Measure(phase, blank, reference.integration_ms))
                reads.append(read.spectrum)
            samples[phase] = read_sample(self.windows, phase, _averaged(reads), dark, reference)
            if self.recipe.monitoring.return_samples:
                yield from self._do(Transfer(phase, self.sample_ul))
                setattr(self.ledger, phase, getattr(self.ledger, phase) + self.sample_ul)
                removed[phase] = 0.0
            else:
                removed[phase] = self.sample_ul
            yield from self._do(Discard())
        obs = Observation(stage, self.ledger.t, stirred, samples, self.ledger.as_dict(),
                          actions, removed)
        self.observations[stage].append(obs)
        return obs

    def _reference(self, blank: str, phase: str) -> PlanStream[None]:
        """Fill the flow cell with the blank, take its reference and dark, flush the cell."""
        source = BLANK_SOURCES[blank]
        yield from self._do(Sample(phase, self.sample_ul, source))
        read = yield from self._do(Reference(blank, source))
        self.references[blank] = (read.dark, read.reference)
        self.scans_per_read = max(int(read.reference.scans_averaged), 1)
        yield from self._do(Discard())

    def _room_mm(self) -> float:
        """How much further below the usual height the polar layer can be drawn (mm), from
        the ledger, as the liquid handler places its tip (mid-layer, clear of the bottom)."""
        area = math.pi * (VIAL_TYPES[self.recipe.vessel].inner_diameter_mm / 2.0) ** 2
        # the handler's layer is what was dispensed and drawn, without the alkane the plan
        # counts dissolved in it, and a margin keeps the tip clear of what the ledger misses
        polar = self.ledger.polar - MUTUAL_SOLUBILITY_FRACTION * float(
            self.recipe.salt.volume.m_as("uL"))
        polar_top = polar / area
        return max(BOTTOM_CLEARANCE_MM, polar_top / 2.0) - BOTTOM_CLEARANCE_MM - ROOM_MARGIN_MM

    def _rinse(self, phase: str) -> PlanStream[None]:
        """Rinse the cell with the phase's blank as often as recovery asks, before its draw:
        the blank drawn into the cell and flushed to waste, while the stock can give it."""
        source = self._rinse_source(phase)
        started = self.ledger.t
        for _ in range(self.recovery.rinses.get(phase, 0)):
            if self.vessels.get(source, math.inf) < self.sample_ul:
                break
            yield from self._do(Sample(phase, self.sample_ul, source))
            yield from self._do(Discard())
        self.recovery.cost_s += self.ledger.t - started

    def _rinse_source(self, phase: str) -> str:
        return BLANK_SOURCES[self._blank_of(phase)]

    def _recover(self, obs: Observation, base_height: float | None) -> RecoveryAction | None:
        """The next recovery action for an unreadable sample; None when none that could help
        is left (the rules' own fresh draw follows, and their bound on unreadable samples in a
        row then asks the operator)."""
        fault, phase = diagnose(obs, self.settings.scatter_limit, base_height)
        if not self.recovery.bounds.enabled or not LADDERS[fault]:
            return None
        source = self._rinse_source(phase)
        rinse_left = self.vessels.get(source, math.inf) >= self.sample_ul
        return self.recovery.next(fault, phase, self.scans_per_read, self._room_mm(),
                                  rinse_left, self._longer_ms(phase))

    def _longer_ms(self, phase: str) -> float | None:
        """Up to twice the phase's reference integration, as long as its blank's brightest
        pixel stays within the detector's linear range; None when no longer one is left."""
        dark, reference = self.references[self._blank_of(phase)]
        light = float(np.max(reference.counts - dark.counts))
        room = LINEAR_FRACTION * reference.full_scale - float(np.max(dark.counts))
        t = reference.integration_ms
        if light <= 0 or room <= 0:
            return None
        longest = math.floor(t * room / light * 100.0) / 100.0
        longer = min(2.0 * t, longest)
        return longer if longer > 1.2 * t else None

    def _blank_of(self, phase: str) -> str:
        return self.nonpolar_blank if phase == "nonpolar" else "polar_salt"

    def _carry_out(self, action: RecoveryAction, settled_s: float) -> PlanStream[None]:
        """Do what ``action`` needs before the next draw (a resample, a rinse and a re-read
        need only that draw: the plan draws deeper, rinses first, reads more, from now on)."""
        if action.act == Act.SETTLE:
            yield from self._do(Settle(max(action.amount - settled_s, 1.0)))
        elif action.act == Act.INTEGRATE:
            blank = self._blank_of(action.phase)
            source = BLANK_SOURCES[blank]
            yield from self._do(Sample(action.phase, self.sample_ul, source))
            read = yield from self._do(Reference(blank, source, action.amount))
            self.references[blank] = (read.dark, read.reference)
            yield from self._do(Discard())

    def _question(self, stage: Stage, verdict: Verdict) -> str:
        text = f"{stage} exchange {verdict.state}: " + "; ".join(verdict.reasons)
        if stage == Stage.BACK:
            text = f"back-exchange {verdict.state}: " + "; ".join(verdict.reasons)
        tried = self.recovery.tried
        if tried:
            text += "; tried: " + ", ".join(tried)
        return text

    def _ola_blank(self, ola_ul: float) -> PlanStream[None]:
        """Mix hexane + OLA at the vial's OLA fraction in ``blank_vial`` and reference it."""
        fraction = ola_ul / max(self.ledger.nonpolar, 1e-9)
        total = min(max(BLANK_OLA_MIN_UL / fraction, BLANK_MIN_UL), BLANK_MAX_UL)
        if fraction * total < BLANK_OLA_MIN_UL - 1e-9:
            return  # too little OLA to tint: the hexane reference stands
        ola = round(fraction * total, 1)
        solvent = self.recipe.cluster.solvent
        yield from self._do(Dispense("hexane_stock", "blank_vial", round(total - ola, 1),
                                     solvent, "nonpolar"))
        yield from self._do(Dispense("ola_stock", "blank_vial", ola, "oleylamine", "nonpolar"))
        yield from self._reference("nonpolar_ola", "nonpolar")
        self.nonpolar_blank = "nonpolar_ola"

    def _decide(self, stage: Stage, verdict: Verdict) -> PlanStream[None]:
        numbers = tuple((k, float(v)) for k, v in verdict.numbers.items())
        bands = []
        for phase, sample in self.observations[stage][-1].samples.items():
            for band_set, estimates in (sample.sets.items() if sample is not None else ()):
                top = max(estimates, key=lambda b: b.height, default=None)
                if top is not None:
                    bands.append((phase, band_set, float(top.position_nm), float(top.height)))
        yield from self._do(Decide(str(stage), str(verdict.state), str(verdict.action),
                                   tuple(verdict.reasons), numbers, tuple(bands)))

    def _ask(self, stage: Stage, question: str) -> PlanStream[str]:
        """Ask the operator; the answers not offered here are journaled with the reason."""
        refused = self.refused_answers(stage)
        choices = tuple(c for c in OPERATOR_CHOICES if c not in refused)
        answered = yield from self._do(AskOperator(question, choices, tuple(refused.items())))
        return answered.answer

    def refused_answers(self, stage: Stage) -> dict[str, str]:
        """Operator answers that make no sense or cannot be done now, with why."""
        if stage == Stage.BACK:
            return {"extend": "the stall policy's extend rung is for the forward exchange "
                              "(continue stirs the back-exchange another round)",
                    "add_salt": "more salt would pull the clusters back into the polar phase"}
        rungs = {name: amount for name, _, amount in reversed(self.settings.ladder)}
        refused = {}
        if "extend" not in rungs:
            refused["extend"] = "the recipe's stall policy (on_stall) has no extend rung"
        if "add_salt" not in rungs:
            refused["add_salt"] = "the recipe's stall policy (on_stall) has no add_salt rung"
            return refused
        volume = rungs["add_salt"]
        vessel = VIAL_TYPES[self.recipe.vessel]
        limit = vessel.max_fill_ml * 1000.0
        held = self.ledger.polar + self.ledger.nonpolar
        be = self.recipe.back_exchange
        later = float(be.hexane_volume.m_as("uL")) + ola_volume_ul(self.recipe) \
            if be.enabled else 0.0
        stock = self.vessels.get("salt_stock")
        if held + volume + later > limit:
            refused["add_salt"] = (
                f"the {vessel.name} holds {held:.0f} µL and may be filled to {limit:.0f} µL: "
                f"{volume:g} µL more salt solution"
                + (f" and the back-exchange's {later:.0f} µL" if later else "")
                + " would not fit")
        elif stock is not None and stock < volume:
            refused["add_salt"] = (f"the salt stock holds {stock:.0f} µL, less than the "
                                   f"{volume:g} µL dose")
        return refused

    # --- the recipe ---------------------------------------------------------------------------

    def steps(self) -> PlanGenerator:
        """The whole run. Send each step's outcome; the generator returns a ``PlanResult``."""
        r = self.recipe
        result = self.result = PlanResult("finished")
        self.stage = STAGES[0]
        # references first, while the cell is clean and the phases have not met
        phases = self.recipe.monitoring.phases
        if "polar" in phases:
            yield from self._reference("polar_salt", "polar")
        if "nonpolar" in phases:
            yield from self._reference("nonpolar", "nonpolar")
        # DMF (denser) first, clusters in hexane layered on top
        yield from self._dispense("salt_stock", float(r.salt.volume.m_as("uL")),
                                  f"{r.salt.compound} in {r.salt.solvent}", "polar")
        yield from self._dispense("cluster_stock", float(r.cluster.volume.m_as("uL")),
                                  f"{r.cluster.material}{r.cluster.size} in {r.cluster.solvent}",
                                  "nonpolar")
        moved = MUTUAL_SOLUBILITY_FRACTION * float(r.salt.volume.m_as("uL"))
        self.ledger.nonpolar -= moved
        self.ledger.polar += moved
        self.stage = str(Stage.FORWARD)
        verdict = yield from self._forward(result)
        if verdict.action == Action.START_BACK_EXCHANGE:
            self.stage = str(Stage.BACK)
            yield from self._back(result)
        return result

    def _forward(self, result: PlanResult) -> PlanStream[Verdict]:
        ex = self.recipe.exchange
        rpm = float(ex.stir_rate.m_as("rpm"))
        tm = timings(self.recipe)
        interval, settle = tm.sampling_interval_s, tm.settle_s
        judge = ForwardJudge(self.settings, self.recipe.back_exchange.enabled)
        stirred, actions = 0.0, ()
        obs = yield from self._observe(Stage.FORWARD, 0.0, actions)
        verdict = judge.feed(obs)
        result.forward.append(verdict)
        yield from self._decide(Stage.FORWARD, verdict)
        settled = settle  # settling since the stirrer last stopped
        for _ in range(MAX_ROUNDS):
            action = verdict.action
            if action in (Action.FINISH, Action.START_BACK_EXCHANGE):
                return verdict
            recovery = None
            if verdict.state == State.AMBIGUOUS:
                recovery = self._recover(obs, None if judge.base is None else judge.base.height)
            else:
                self.recovery.readable()
            started = self.ledger.t
            if recovery is not None:
                yield from self._carry_out(recovery, settled)
                if recovery.act == Act.SETTLE:
                    settled = recovery.amount
            elif action == Action.STOP_FOR_OPERATOR:
                answer = yield from self._ask(Stage.FORWARD, self._question(Stage.FORWARD,
                                                                            verdict))
                if answer not in ("continue", "extend", "add_salt"):  # abort, or an older 'finish'
                    result.end = "operator_aborted"
                    return verdict
                # 'extend' and 'add_salt' count as the policy's own rungs: the judge grants
                # the extend rung's time more, and the next stall climbs the ladder past them
                actions = (*actions, "operator_continue" if answer == "continue" else answer)
                if answer == "add_salt":
                    yield from self._dispense("salt_stock", self._add_salt_ul(),
                                              "salt solution", "polar")
                yield from self._stir_for(rpm, interval)
                stirred += interval
                settled = yield from self._settle_after_stirring()
            elif action == Action.RESAMPLE:
                yield from self._do(Wait(RESAMPLE_WAIT_S[Stage.FORWARD], "before a fresh sample"))
                settled += RESAMPLE_WAIT_S[Stage.FORWARD]
            elif action == Action.RESETTLE:
                yield from self._do(Settle(settle))
                settled += settle
            else:
                if action == Action.EXTEND:
                    actions = (*actions, "extend")
                elif action == Action.ADD_SALT:
                    actions = (*actions, "add_salt")
                    yield from self._dispense("salt_stock", self._add_salt_ul(),
                                              "salt solution", "polar")
                stir_s = float(verdict.numbers.get("next_stir_s", interval))
                yield from self._stir_for(rpm, stir_s)
                stirred += stir_s
                settled = yield from self._settle_after_stirring()
            # while each sample costs a long settle, sample less often when the run's own rate
            # says completion is further away
            judge.max_stir_steps = max(3, min(6, round(3 * self.recovery.settle_s / settle)))
            obs = yield from self._observe(Stage.FORWARD, stirred, actions)
            if recovery is not None:
                self.recovery.cost_s += self.ledger.t - started
            verdict = judge.feed(obs)
            result.forward.append(verdict)
            yield from self._decide(Stage.FORWARD, verdict)
        result.end = "round_limit"
        return verdict

    def _settle_after_stirring(self) -> PlanStream[float]:
        """Settle as long as the recipe says, or longer once recovery extended it."""
        yield from self._do(Settle(self.recovery.settle_s))
        self.recovery.cost_s += self.recovery.settle_s - self.recovery.bounds.settle_s
        return self.recovery.settle_s

    def _add_salt_ul(self) -> float:
        return next(a for n, _, a in self.settings.ladder if n == "add_salt")

    def _back(self, result: PlanResult) -> PlanStream[None]:
        be = self.recipe.back_exchange
        fresh = float(be.hexane_volume.m_as("uL"))
        if fresh > 0:
            yield from self._dispense("hexane_stock", fresh, self.recipe.cluster.solvent,
                                      "nonpolar")
        ola_ul = ola_volume_ul(self.recipe)
        yield from self._dispense("ola_stock", ola_ul, "oleylamine", "nonpolar")
        if ("nonpolar" in self.recipe.monitoring.phases
                and "nonpolar_ola" in self.recipe.monitoring.blanks):
            yield from self._ola_blank(ola_ul)
        rpm = float((be.stir_rate or self.recipe.exchange.stir_rate).m_as("rpm"))
        tm = timings(self.recipe)
        stir_s, settle = tm.back_stir_s, tm.back_settle_s
        stirred = 0.0
        verdict: Verdict | None = None
        for _ in range(MAX_ROUNDS):
            if verdict is not None and verdict.action == Action.RESETTLE:
                yield from self._do(Settle(settle))
            elif verdict is not None and verdict.action == Action.RESAMPLE:
                yield from self._do(Wait(RESAMPLE_WAIT_S[Stage.BACK], "before a fresh sample"))
            else:
                yield from self._stir_for(rpm, stir_s)
                stirred += stir_s
                yield from self._do(Settle(settle))
            yield from self._observe(Stage.BACK, stirred, ())
            verdict = judge_back(self.observations[Stage.FORWARD],
                                 self.observations[Stage.BACK], self.settings)
            result.back.append(verdict)
            yield from self._decide(Stage.BACK, verdict)
            if verdict.action == Action.FINISH:
                return
            if verdict.action == Action.STOP_FOR_OPERATOR:
                answer = yield from self._ask(Stage.BACK, self._question(Stage.BACK, verdict))
                if answer != "continue":  # abort (or 'finish', journaled by older versions)
                    result.end = "operator_aborted"
                    return
        result.end = "round_limit"


def _averaged(reads: list[Spectrum]) -> Spectrum:
    """Reads of one cell averaged as the spectrometer averages scans: noise falls as the square
    root of the scans, so ``n`` reads of ``k`` scans are one read of ``n·k``."""
    if len(reads) == 1:
        return reads[0]
    first = reads[0]
    counts = np.mean([r.counts for r in reads], axis=0)
    return Spectrum(first.wavelengths_nm, counts, first.integration_ms,
                    sum(r.scans_averaged for r in reads), first.full_scale, first.meta)
