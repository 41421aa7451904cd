"""Constants of the digital twin, each tagged with where it comes from.

The paper gives qualitative kinetics only ("vigorous stirring for a short time" → complete
transfer; "immediate" back-exchange with OLA), so every rate here is *assumed* and chosen to
reproduce those statements; replace them with measured values when a lab has them. Scenario
mixes (benchmarks) vary these within documented ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from mscrobot.chemistry.facts import Fact, assumed

DegradationMode = Literal["broadening", "red_tail", "new_band", "loss"]

#: Forward transfer rate constants (1/s) at 1000 rpm and 25 °C; t95 ≈ 3/k (assumed: the paper
#: says only "a short time"; acetate and In3+ taken slower as weaker/other Lewis acids).
SALT_RATE_PER_S: dict[str, Fact[float]] = {
    "ZnCl2": assumed(1 / 100, "t95 ~ 5 min at 1000 rpm"),
    "Zn(NO3)2": assumed(1 / 110, "t95 ~ 5.5 min"),
    "Zn(OTf)2": assumed(1 / 90, "t95 ~ 4.5 min"),
    "Zn(OAc)2": assumed(1 / 160, "t95 ~ 8 min"),
    "InCl3": assumed(1 / 200, "t95 ~ 10 min; In3+ exchange not shown in the paper"),
    "In(NO3)3": assumed(1 / 200, "t95 ~ 10 min; In3+ exchange not shown in the paper"),
}


@dataclass(frozen=True, slots=True)
class TwinParams:
    """Everything the twin needs beyond the recipe. Defaults are a clean, well-behaved vial."""

    # transfer kinetics (assumed)
    rate_scale: float = 1.0
    stir_exponent: float = 1.5
    still_fraction: float = 0.02
    activation_kj_per_mol: float = 40.0
    interface_release_per_s: float = 1 / 30
    back_rate_per_s: float = 1 / 10
    ola_per_cluster_needed: float = 50.0
    # two liquids (handbook-ish and assumed)
    hexane_into_dmf_fraction: float = 0.02
    evaporation_ul_per_min: float = 0.3
    # emulsion after stirring (assumed): droplet volume fraction and settling time at 1000 rpm
    emulsion_fraction: float = 0.02
    settle_tau_s: float = 12.0
    settle_exponent: float = 2.4
    scatter_per_fraction: float = 4.0
    droplet_scatter_n: float = 0.4
    # the flow cell's path (the lab's); band shapes come from chemistry.optical
    path_cm: float = 0.2
    # degradation (off in a clean vial)
    degradation: DegradationMode | None = None
    degradation_rate_per_s: float = 0.0
    degradation_onset_s: float = 0.0
    # sampling and flow cell (assumed)
    carry_over: float = 0.002
    #: alkane film a polar draw drags down (volume fraction of the sample), at the usual height
    drag_fraction: float = 0.0
    #: share of the drag that no depth removes (alkane inside a tip whose air gap fails: a
    #: persistent fault); the rest falls by e per ``drag_depth_mm`` drawn further down
    drag_persistent: float = 0.0
    drag_depth_mm: float = 1.0
    #: a draw at the interface (falls with depth like the film)
    interface_sample_probability: float = 0.0
    #: air drawn into the cell per draw; ``air_lodges``: the bubble stays in the cell until
    #: liquid is pushed through it (a rinse), else it leaves with the next draw (a leaking
    #: fitting that keeps drawing air is the persistent case: every draw rolls again)
    air_probability: float = 0.0
    air_lodges: bool = True
    # lamp (assumed): slow drift since the reference, and rare flares that saturate a read
    lamp_drift_per_hour: float = 0.0
    lamp_flare_probability: float = 0.0
    lamp_flare_factor: float = 1.6

    def but(self, **changes: object) -> TwinParams:
        """A copy with some constants changed (scenario mixes)."""
        return replace(self, **changes)  # type: ignore[arg-type]
