"""What the robot tries by itself on a sample it cannot read, before it asks the operator (pure).

An ``ambiguous`` verdict says a sample cannot be trusted; the observation behind it says why,
and that picks what a chemist at the bench would do next (``diagnose``):

- an air gap in the cell (no solvent signature): rinse the cell with the phase's blank before
  the phase is drawn again (liquid pushed through carries a lodged bubble out);
- alkane dragged into a polar sample (its bands, droplets): draw again 1 mm further below the
  interface with a fresh tip, then rinse before each draw (the alkane a shared cell carries
  over from the alkane sample), then settle longer (an emulsion);
- droplets in the alkane (scatter): rinse before each draw (the polar sample's carry-over),
  then settle longer (an emulsion clears with time); the polar band without scatter
  (carry-over): rinse first;
- a noisy read (no band found in the pre-exchange sample): average more reads;
- too little light (a dim reference at a short integration time): take the blank's reference
  again at up to twice the integration, within the detector's linear range, and read at that.

Every action has a bound (``Recovery`` in the recipe, ``0`` turns it off), and what it changes
is kept for the rest of the run, as the fault would come back: the polar phase drawn up to
``resample`` mm lower, up to ``flushes`` rinses before each draw of a phase, settling up to
``settle_max``, reads averaged up to ``scans_max`` scans, integration within the detector's
linear range. ``Recoverer.next`` returns the next action, or ``None`` when the ones that could
help are spent or off; the plan then asks the operator, saying what was tried (``tried``, the
actions since the last readable sample).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from mscrobot.decide.observations import REFUSING_FLAGS, Observation
from mscrobot.recipe.models import Recipe

NONPOLAR, POLAR = "nonpolar", "polar"
#: How much further from the interface each resample draws (mm; "a millimetre lower").
RESAMPLE_STEP_MM = 1.0
#: Longer integrations tried per unreadable streak (each at most doubles it, within the
#: detector's linear range: brightest pixel of the blank at ``LINEAR_FRACTION`` of full scale).
MAX_INTEGRATIONS = 3
LINEAR_FRACTION = 0.8
#: An other-phase band counts as a carried-over or dragged band above this fraction of the
#: run's pre-exchange band (assumed, as the rules' identity fraction).
_INTRUDER_FRACTION = 0.03


class Fault(StrEnum):
    """Why a sample could not be read, as far as the sample shows."""

    AIR = "air"  # no solvent signature: the cell holds air
    DRAG = "drag"  # the polar sample shows the alkane (its bands, droplets)
    DROPLETS = "droplets"  # the alkane sample scatters: an emulsion settling
    CARRY_OVER = "carry_over"  # the other phase's band, no scatter
    NOISE = "noise"  # too weak or noisy to read a band
    DIM = "dim"  # too little light through the cell at this integration time
    OTHER = "other"  # saturation, non-finite numbers: the rules' own resettle/resample


class Act(StrEnum):
    RESAMPLE = "resample"  # draw the polar phase further down with a fresh tip
    FLUSH = "flush"  # rinse the cell with the phase's blank, then refill
    SETTLE = "settle"  # settle longer before the next draw
    REREAD = "reread"  # average more reads of each sample
    INTEGRATE = "integrate"  # take the phase's reference again at a longer integration


@dataclass(frozen=True)
class RecoveryAction:
    """One bounded action: what, for which phase, and how much (mm, s or reads)."""

    act: Act
    phase: str
    amount: float
    why: str

    def describe(self) -> str:
        if self.act == Act.RESAMPLE:
            return f"drew the {self.phase} phase {self.amount:g} mm further from the interface"
        if self.act == Act.FLUSH:
            times = "" if self.amount == 1 else f" {self.amount:g} times"
            return f"rinsed the flow cell{times} with the {self.phase} blank before each draw"
        if self.act == Act.SETTLE:
            return f"settled {self.amount / 60:g} min before sampling"
        if self.act == Act.INTEGRATE:
            return f"read the {self.phase} phase at {self.amount:g} ms integration"
        return f"averaged {self.amount:g} reads of each sample"


@dataclass(frozen=True)
class RecoveryBounds:
    resample: int  # draws per streak, each 1 mm lower, never more than this many mm in all
    flushes: int
    settle_s: float  # the recipe's settling, where extension starts
    settle_max_s: float
    scans_max: int

    @classmethod
    def from_recipe(cls, recipe: Recipe) -> RecoveryBounds:
        rc = recipe.monitoring.recovery
        return cls(
            rc.resample,
            rc.flushes,
            float(recipe.exchange.settle_time.m_as("s")),
            float(rc.settle_max.m_as("s")),
            rc.scans_max,
        )

    @property
    def enabled(self) -> bool:
        return bool(
            self.resample or self.flushes or self.settle_max_s > self.settle_s or self.scans_max > 1
        )


def diagnose(
    obs: Observation, scatter_limit: float, base_height: float | None
) -> tuple[Fault, str]:
    """The fault the observation shows first (phases in sampling order), and its phase.

    ``base_height``: the run's pre-exchange band (None before one was read: a sample is then
    judged by its flags and scatter only, and an unreadable band is noise)."""
    for phase, sample in obs.samples.items():
        if sample is None:
            return Fault.OTHER, phase
        flags = sample.flags & REFUSING_FLAGS
        if "saturated" in flags:  # a lamp flare or a bright read: the rules' fresh read
            return Fault.OTHER, phase
        if "no_solvent" in flags:
            return Fault.AIR, phase
        if flags == {"low_signal"}:
            return Fault.DIM, phase
        if flags:  # saturated, a dark reference: more reads or draws do not help
            return Fault.OTHER, phase
        other = POLAR if phase == NONPOLAR else NONPOLAR
        scatters = sample.scatter.at_band > scatter_limit
        intruder = (
            base_height is not None
            and other in sample.sets
            and (sample.height(other) > _INTRUDER_FRACTION * base_height)
        )
        if phase == POLAR and (scatters or intruder):
            return Fault.DRAG, phase
        if scatters:
            return Fault.DROPLETS, phase
        if intruder and phase == NONPOLAR:
            return Fault.CARRY_OVER, phase
    if base_height is None:
        return Fault.NOISE, NONPOLAR
    return Fault.OTHER, next(iter(obs.samples), NONPOLAR)


#: What helps each fault, in the order a chemist would try it.
LADDERS: dict[Fault, tuple[Act, ...]] = {
    Fault.AIR: (Act.FLUSH,),
    Fault.DRAG: (Act.RESAMPLE, Act.FLUSH, Act.SETTLE),
    Fault.DROPLETS: (Act.FLUSH, Act.SETTLE),
    Fault.CARRY_OVER: (Act.FLUSH, Act.SETTLE),
    Fault.NOISE: (Act.REREAD,),
    Fault.DIM: (Act.INTEGRATE,),
    Fault.OTHER: (),
}


@dataclass
class Recoverer:
    """The bounded recovery state of one run (fed in order, so a resumed plan rebuilds it)."""

    bounds: RecoveryBounds
    #: settling before each draw now, reads averaged per sample now, and how much further
    #: below the interface polar samples are drawn now (kept for the run)
    settle_s: float = 0.0
    reads: int = 1
    depth_mm: float = 0.0
    #: rinses of the cell with a phase's blank before each draw of that phase (kept too)
    rinses: dict[str, int] = field(default_factory=dict)
    #: used in the current run of unreadable samples (reset by a readable one)
    resamples: int = 0
    integrations: int = 0
    once_settle_s: float = 0.0
    tried: list[str] = field(default_factory=list)
    #: every action taken in the run, for the report and the benchmark, and the lab time they
    #: cost (each action with the draws it needs, and settling beyond the recipe's since)
    taken: list[RecoveryAction] = field(default_factory=list)
    cost_s: float = 0.0

    def __post_init__(self) -> None:
        self.settle_s = self.settle_s or self.bounds.settle_s

    def readable(self) -> None:
        """A sample was read: the next unreadable one starts a fresh episode."""
        self.resamples = self.integrations = 0
        self.once_settle_s = 0.0
        self.tried = []

    def next(
        self,
        fault: Fault,
        phase: str,
        scans_per_read: int,
        room_mm: float,
        rinse_left: bool,
        longer_ms: float | None = None,
    ) -> RecoveryAction | None:
        """The next action for ``fault``, or None when every one that could help is spent.

        ``room_mm``: how much further down the polar layer can be drawn (the plan's ledger);
        ``rinse_left``: the phase's blank can still give a rinse (and a new reference);
        ``longer_ms``: a longer integration for the phase within the detector's linear range
        (None: none is left)."""
        b = self.bounds
        for act in LADDERS[fault]:
            if act == Act.RESAMPLE and self.resamples < b.resample:
                depth = self.depth_mm + RESAMPLE_STEP_MM
                if depth <= min(room_mm, b.resample * RESAMPLE_STEP_MM) + 1e-9:
                    self.resamples += 1
                    self.depth_mm = depth
                    return self._take(RecoveryAction(act, POLAR, depth, fault))
            elif act == Act.FLUSH and self.rinses.get(phase, 0) < b.flushes and rinse_left:
                self.rinses[phase] = self.rinses.get(phase, 0) + 1
                return self._take(RecoveryAction(act, phase, self.rinses[phase], fault))
            elif act == Act.SETTLE and fault == Fault.DRAG:
                # droplets only in the polar sample: a drag as likely as an emulsion, so the
                # longer settle is for this draw only (an emulsion shows in the alkane too)
                longer = min(2.0 * max(self.once_settle_s, self.settle_s), b.settle_max_s)
                if longer > max(self.once_settle_s, self.settle_s) + 1e-6:
                    self.once_settle_s = longer
                    return self._take(RecoveryAction(act, phase, longer, fault))
            elif act == Act.SETTLE and self.settle_s < b.settle_max_s - 1e-6:
                self.settle_s = min(2.0 * self.settle_s, b.settle_max_s)
                return self._take(RecoveryAction(act, phase, self.settle_s, fault))
            elif act == Act.REREAD and (2 * self.reads) * max(scans_per_read, 1) <= b.scans_max:
                self.reads *= 2
                return self._take(RecoveryAction(act, phase, self.reads, fault))
            elif (
                act == Act.INTEGRATE
                and b.scans_max > 1
                and longer_ms is not None
                and rinse_left
                and self.integrations < MAX_INTEGRATIONS
            ):
                self.integrations += 1
                return self._take(RecoveryAction(act, phase, longer_ms, fault))
        return None

    def _take(self, action: RecoveryAction) -> RecoveryAction:
        self.tried.append(action.describe())
        self.taken.append(action)
        return action
