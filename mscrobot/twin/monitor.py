"""Drive a twin vial through the monitoring loop the way the engine does, in virtual time.

Stir an interval, stop, settle, sample both phases into the flow cell, measure, analyse, ask the
decision logic, do what it says — until it says finish or stop. Used by fidelity tests and the
decision benchmark; the engine (with its journal and devices) runs the same loop for real.
Everything here is pure: the clock is a number, randomness comes from the vial's seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mscrobot.chemistry import OLEYLAMINE, SOLVENTS
from mscrobot.decide.observations import DecisionSettings, Observation, Stage
from mscrobot.decide.rules import ForwardJudge, judge_back
from mscrobot.decide.verdicts import Action, State, Verdict
from mscrobot.recipe.models import Recipe
from mscrobot.spectra import analyse_sample
from mscrobot.spectra.types import SampleAnalysis
from mscrobot.twin.absorbance import SpectralModel
from mscrobot.twin.optics import Instrument, hdx_wavelength_coefficients, measure, wavelengths
from mscrobot.twin.params import TwinParams
from mscrobot.twin.vial import FlowCell, Truth, VialTwin

PHASES = ("nonpolar", "polar")
_NOMINAL = TwinParams()
_MAX_STEPS = 200


@dataclass
class Step:
    """One monitoring sample: what the logic saw and decided, and what was really there."""

    observation: Observation
    verdict: Verdict
    truth: Truth


@dataclass
class MonitorRun:
    forward: list[Step] = field(default_factory=list)
    back: list[Step] = field(default_factory=list)
    end: str = "running"  # finished | stopped | step_limit
    time_s: float = 0.0

    @property
    def forward_state(self) -> State:
        return self.forward[-1].verdict.state if self.forward else State.NOT_STARTED


def analysis_windows(recipe: Recipe) -> dict[str, object]:
    """Band sets and fitting windows for the recipe's cluster (CdS34: 300–410, 430–600 nm)."""
    bands = recipe.monitoring.bands
    assert bands is not None
    sets = {"nonpolar": [float(b.m_as("nm")) for b in bands.nonpolar],
            "polar": [float(b.m_as("nm")) for b in bands.polar]}
    everything = [x for v in sets.values() for x in v]
    return {"band_sets": sets, "window": (min(everything) - 30.0, max(everything) + 45.0),
            "scatter_window": (max(everything) + 65.0, max(everything) + 235.0)}


class MonitorLoop:
    """The loop, holding the twin vial, the flow cell, the instrument and the tracked volumes."""

    def __init__(self, recipe: Recipe, params: TwinParams | None = None, seed: int = 0,
                 instrument: Instrument | None = None) -> None:
        self.recipe, self.params = recipe, params or TwinParams()
        self.vial = VialTwin(recipe, self.params, seed)
        self.rng = np.random.default_rng([seed, 1])
        self.cell = FlowCell(self.params.carry_over)
        self.model = SpectralModel.for_recipe(recipe, self.params)
        self.instrument = instrument or Instrument()
        self.wl = wavelengths(hdx_wavelength_coefficients())
        self.windows = analysis_windows(recipe)
        self.settings = DecisionSettings.from_recipe(recipe)
        v_d = float(recipe.salt.volume.m_as("uL"))
        moved = _NOMINAL.hexane_into_dmf_fraction * v_d
        self.tracked = {"nonpolar": float(recipe.cluster.volume.m_as("uL")) - moved,
                        "polar": v_d + moved}
        self.t = 0.0
        self.ola_molar_blank = 0.0

    # --- one sample -------------------------------------------------------------------------

    def _edge(self, phase: str) -> tuple[float, float] | None:
        name = self.recipe.cluster.solvent if phase == "nonpolar" else self.recipe.salt.solvent
        cutoff = SOLVENTS[name].uv_cutoff_nm.value
        if cutoff is None:
            return None
        lo = max(cutoff + 2.0, float(self.wl[0]) + 1.0)
        return (lo, lo + 6.0)

    def sample(self, phase: str) -> SampleAnalysis:
        volume = float(self.recipe.monitoring.sample_volume.m_as("uL"))
        contents = self.cell.load(self.vial.draw(phase, volume, self.t))
        self.tracked[phase] -= volume
        if phase == "nonpolar":
            blank = self.model.blank(self.wl, phase, ola_molar=self.ola_molar_blank)
        else:
            blank = self.model.blank(self.wl, phase,
                                     salt_molar=float(self.recipe.salt.concentration.m_as("M")))
        drift = 1.0 + self.params.lamp_drift_per_hour * self.t / 3600.0
        if self.rng.random() < self.params.lamp_flare_probability:
            drift *= self.params.lamp_flare_factor
        sample, dark, reference = measure(self.wl, self.model.cell(self.wl, contents), blank,
                                          self.instrument, self.rng, lamp_drift=drift)
        self.t += 20.0  # aspirate, push through the cell, read
        return analyse_sample(sample, dark, reference, self.windows["band_sets"],
                              window=self.windows["window"],
                              scatter_window=self.windows["scatter_window"],
                              solvent_edge=self._edge(phase))

    def observe(self, stage: Stage, stirred_s: float, actions: tuple[str, ...]) -> Observation:
        samples = {p: self.sample(p) for p in self.recipe.monitoring.phases}
        evaporated = _NOMINAL.evaporation_ul_per_min * 20.0 / 60.0 * len(samples)
        self.tracked["nonpolar"] -= evaporated
        volume = float(self.recipe.monitoring.sample_volume.m_as("uL"))
        return Observation(stage, self.t, stirred_s, samples, dict(self.tracked), actions,
                           {p: volume for p in samples})

    # --- the loop -----------------------------------------------------------------------------

    def stir(self, rpm: float, seconds: float) -> None:
        self.vial.set_stir(rpm, self.t)
        self.t += seconds
        self.vial.set_stir(0.0, self.t)
        self.tracked["nonpolar"] -= _NOMINAL.evaporation_ul_per_min * 1.5 * seconds / 60.0

    def wait(self, seconds: float) -> None:
        self.t += seconds
        self.vial.advance(self.t)
        self.tracked["nonpolar"] -= _NOMINAL.evaporation_ul_per_min * seconds / 60.0

    def run(self) -> MonitorRun:
        out = MonitorRun()
        ex = self.recipe.exchange
        rpm = float(ex.stir_rate.m_as("rpm"))
        interval = float(ex.sampling_interval.m_as("s"))
        settle = float(ex.settle_time.m_as("s"))
        judge = ForwardJudge(self.settings, self.recipe.back_exchange.enabled)
        stirred, actions = 0.0, ()
        obs = self.observe(Stage.FORWARD, 0.0, actions)
        verdict = judge.feed(obs)
        out.forward.append(Step(obs, verdict, self.vial.truth()))
        for _ in range(_MAX_STEPS):
            action = verdict.action
            if action in (Action.STOP_FOR_OPERATOR, Action.FINISH, Action.START_BACK_EXCHANGE):
                break
            if action == Action.RESAMPLE:
                self.wait(30.0)
            elif action == Action.RESETTLE:
                self.wait(settle)
            else:
                if action == Action.EXTEND:
                    actions = (*actions, "extend")
                elif action == Action.ADD_SALT:
                    actions = (*actions, "add_salt")
                    volume = next(a for n, _, a in self.settings.ladder if n == "add_salt")
                    self.vial.add_salt_solution(volume, float(
                        self.recipe.salt.concentration.m_as("M")), self.t)
                    self.tracked["polar"] += volume
                stir_s = verdict.numbers.get("next_stir_s", interval)
                self.stir(rpm, stir_s)
                stirred += stir_s
                self.wait(settle)
            obs = self.observe(Stage.FORWARD, stirred, actions)
            verdict = judge.feed(obs)
            out.forward.append(Step(obs, verdict, self.vial.truth()))
        else:
            out.end = "step_limit"
        if verdict.action == Action.START_BACK_EXCHANGE:
            self._back_exchange(out)
        elif out.end == "running":
            out.end = "finished" if verdict.action == Action.FINISH else "stopped"
        out.time_s = self.t
        return out

    def _back_exchange(self, out: MonitorRun) -> None:
        be = self.recipe.back_exchange
        fresh = float(be.hexane_volume.m_as("uL"))
        ola = be.ola
        if ola.check("[length] ** 3"):
            grams = float(ola.m_as("mL")) * OLEYLAMINE.density_g_per_ml.value
            nmol = grams / OLEYLAMINE.molar_mass_g_per_mol.value * 1e9
        else:
            nmol = float(ola.m_as("nmol"))
        self.vial.add_alkane(fresh, self.t)
        self.vial.add_ola(nmol, self.t)
        self.tracked["nonpolar"] += fresh
        self.ola_molar_blank = nmol / self.tracked["nonpolar"] * 1e-3
        rpm = float((be.stir_rate or self.recipe.exchange.stir_rate).m_as("rpm"))
        stir_s, settle = float(be.stir_time.m_as("s")), float(be.settle_time.m_as("s"))
        forward_obs = [s.observation for s in out.forward]
        back_obs: list[Observation] = []
        stirred = 0.0
        verdict: Verdict | None = None
        for _ in range(_MAX_STEPS):
            if verdict is not None and verdict.action == Action.RESETTLE:
                self.wait(settle)
            elif verdict is not None and verdict.action == Action.RESAMPLE:
                self.wait(10.0)
            else:
                self.stir(rpm, stir_s)
                stirred += stir_s
                self.wait(settle)
            obs = self.observe(Stage.BACK, stirred, ())
            back_obs.append(obs)
            verdict = judge_back(forward_obs, back_obs, self.settings)
            out.back.append(Step(obs, verdict, self.vial.truth()))
            if verdict.action in (Action.FINISH, Action.STOP_FOR_OPERATOR):
                out.end = "finished" if verdict.action == Action.FINISH else "stopped"
                return
        out.end = "step_limit"


def run_monitoring(recipe: Recipe, params: TwinParams | None = None, seed: int = 0,
                   instrument: Instrument | None = None) -> MonitorRun:
    """Run the whole monitored exchange (and back-exchange) of ``recipe`` on a twin vial."""
    return MonitorLoop(recipe, params, seed, instrument).run()
