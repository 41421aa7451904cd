"""A simulated vial on the bench, for experiments step by step (the twin's fidelity tests).

The two phases are already together at t = 0, and nothing decides for you: stir, wait, sample a
phase and read its analysed spectrum. Whole runs go through ``mscrobot.app.dryrun`` instead,
which executes the real plan.
"""

from __future__ import annotations

from mscrobot.app.labs import start_vessels
from mscrobot.decide.observations import DecisionSettings, Observation, Stage
from mscrobot.lab.config import load_lab
from mscrobot.lab.simulated.world import Timing, World, WorldSpec
from mscrobot.procedure.reading import analysis_windows, read_sample
from mscrobot.recipe.models import Recipe
from mscrobot.spectra.types import SampleAnalysis, Spectrum
from mscrobot.twin.optics import Instrument
from mscrobot.twin.params import TwinParams
from mscrobot.twin.vial import VialTwin


class Bench:
    def __init__(self, recipe: Recipe, params: TwinParams | None = None, seed: int = 0,
                 instrument: Instrument | None = None) -> None:
        vessels = start_vessels(load_lab("twin")[0], recipe)
        self.recipe = recipe
        self.world = World(WorldSpec(recipe, seed, vessels, Timing(dispense_s=0.0),
                                     params or TwinParams(), instrument or Instrument()))
        self.sample_ul = float(recipe.monitoring.sample_volume.m_as("uL"))
        # one reference per phase from the stocks, as the plan takes them before the run
        self.references = {"polar": self._reference("salt_stock", "polar", "polar_salt"),
                           "nonpolar": self._reference("hexane_stock", "nonpolar", "nonpolar")}
        self.world.dispense("bench/salt", "salt_stock", "reaction",
                            float(recipe.salt.volume.m_as("uL")), "polar")
        self.world.dispense("bench/clusters", "cluster_stock", "reaction",
                            float(recipe.cluster.volume.m_as("uL")), "nonpolar")
        self.windows = analysis_windows(recipe)
        self.settings = DecisionSettings.from_recipe(recipe)
        self._ops = 0

    @property
    def vial(self) -> VialTwin:
        assert self.world.vial is not None
        return self.world.vial

    @property
    def t(self) -> float:
        """Seconds since the phases met (the references were taken before)."""
        return self.world.t - self.world.t_mix

    def stir(self, rpm: float, seconds: float) -> None:
        self.world.stir(rpm)
        self.world.advance(self.world.t + seconds)
        self.world.stir(0.0)

    def wait(self, seconds: float) -> None:
        self.world.advance(self.world.t + seconds)

    def sample(self, phase: str) -> SampleAnalysis:
        """Draw one phase into the flow cell, read it against its blank, flush the cell."""
        self._ops += 1
        self.world.sample(f"bench/{self._ops}", "reaction", phase, self.sample_ul)
        dark, reference = self.references[phase]
        sample = self.world.measure(reference.integration_ms)
        self.world.flush(f"bench/{self._ops}")
        return read_sample(self.windows, phase, sample, dark, reference)

    def _reference(self, stock: str, phase: str, blank: str) -> tuple[Spectrum, Spectrum]:
        self.world.sample(f"bench/{blank}", stock, phase, self.sample_ul)
        read = self.world.reference(blank)
        self.world.flush(f"bench/{blank}")
        return read

    def observe(self, stage: Stage, stirred_s: float,
                actions: tuple[str, ...] = ()) -> Observation:
        """Both phases sampled; volumes are the twin's true ones (a bench has no bookkeeping)."""
        samples = {p: self.sample(p) for p in self.recipe.monitoring.phases}
        truth = self.vial.truth()
        return Observation(stage, self.t, stirred_s, samples,
                           {"nonpolar": truth.v_h, "polar": truth.v_d}, actions,
                           {p: self.sample_ul for p in samples})
