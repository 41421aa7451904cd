"""The typed steps a recipe compiles into: what the engine executes, one device action each.

Steps are plain frozen data, so the journal can store them as JSON and compare a resumed run's
steps with the recorded ones. ``IDEMPOTENT`` says whether running a step twice is harmless: the
engine re-runs an interrupted idempotent step on resume, but never re-runs a non-idempotent one
(a dispense, a sample draw) without the device or the operator saying it did not happen.
Durations are seconds, volumes µL, speeds rpm: plain floats, converted once from the recipe.

Each step kind is a Params/Result pair (as Opentrons' protocol engine commands are): the step
is the params, ``Step[R]`` names the result its execution returns (``procedure/results.py``),
which the plan reads typed; ``result_type`` is that same type at run time, for the journal to
rebuild a result from its JSON. A non-idempotent step's result may instead be a ``Recovered``
(it was interrupted and found to have happened).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Generic, TypeVar

from mscrobot.procedure.results import (
    Answered,
    Done,
    Handled,
    Measured,
    Recovered,
    Referenced,
    Result,
    Sampled,
    Stirred,
)

R = TypeVar("R", bound=Result)


@dataclass(frozen=True)
class Step(Generic[R]):
    """Base of all steps; ``kind`` names the step in the journal and in plans."""

    kind: ClassVar[str] = "step"
    idempotent: ClassVar[bool] = True
    #: True when the step touches a device (pure steps write no intent: nothing to interrupt)
    touches_device: ClassVar[bool] = True
    #: the result its execution returns (``R``), as a class the journal can rebuild
    result_type: ClassVar[type[Result]] = Done

    def params(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    def describe(self) -> str:
        return self.kind

    def deadline(self, started_t: float) -> float | None:
        """When the step is over, fixed when its intent is journaled so that a resumed step
        ends when it would have (None: when its device says so)."""
        return None


@dataclass(frozen=True)
class Dispense(Step[Handled]):
    """Move ``volume_ul`` of a stock into a vessel (salt solution, clusters, hexane, OLA)."""

    kind: ClassVar[str] = "dispense"
    idempotent: ClassVar[bool] = False
    result_type: ClassVar[type[Result]] = Handled
    source: str
    dest: str
    volume_ul: float
    liquid: str
    layer: str  # the phase it joins in the vial: 'polar' or 'nonpolar'

    def describe(self) -> str:
        return f"dispense {self.volume_ul:g} µL {self.liquid} {self.source} → {self.dest}"


@dataclass(frozen=True)
class Stir(Step[Stirred]):
    """Start the stirrer at ``rpm`` (it keeps turning until StopStir)."""

    kind: ClassVar[str] = "stir"
    result_type: ClassVar[type[Result]] = Stirred
    rpm: float

    def describe(self) -> str:
        return f"stir at {self.rpm:g} rpm"


@dataclass(frozen=True)
class StopStir(Step[Stirred]):
    kind: ClassVar[str] = "stop_stir"
    result_type: ClassVar[type[Result]] = Stirred

    def describe(self) -> str:
        return "stop stirring"


@dataclass(frozen=True)
class Wait(Step[Done]):
    """Let ``seconds`` pass (stirring or not). Resumable: the deadline is fixed by the intent."""

    kind: ClassVar[str] = "wait"
    seconds: float
    why: str = ""

    def describe(self) -> str:
        return f"wait {self.seconds:g} s" + (f" ({self.why})" if self.why else "")

    def deadline(self, started_t: float) -> float | None:
        return started_t + self.seconds


@dataclass(frozen=True)
class Settle(Wait):
    """Stirrer off, let the phases separate for ``seconds``."""

    kind: ClassVar[str] = "settle"

    def describe(self) -> str:
        return f"settle {self.seconds:g} s"


@dataclass(frozen=True)
class Sample(Step[Sampled | Recovered]):
    """Draw ``volume_ul`` of one phase of a vessel into the flow cell: the reaction vial's phase
    (which loses it), or a stock or blank vial holding a blank of that phase."""

    kind: ClassVar[str] = "sample"
    idempotent: ClassVar[bool] = False
    result_type: ClassVar[type[Result]] = Sampled
    phase: str
    volume_ul: float
    vessel: str = "reaction"
    #: the tip this much further from the interface than the usual height (a resample after a
    #: dragged film); always a fresh tip
    depth_mm: float = 0.0

    def params(self) -> dict[str, Any]:
        """Without ``depth_mm`` at the usual height, as journals before it was added."""
        out = super().params()
        if not self.depth_mm:
            out.pop("depth_mm")
        return out

    def describe(self) -> str:
        where = "" if self.vessel == "reaction" else f" of {self.vessel}"
        deeper = f", {self.depth_mm:g} mm further from the interface" if self.depth_mm else ""
        return (f"sample {self.volume_ul:g} µL of the {self.phase} phase{where} into the flow "
                f"cell{deeper}")


@dataclass(frozen=True)
class Reference(Step[Referenced]):
    """Read the blank now in the flow cell as the reference named ``blank``, with its dark.

    The spectrometer picks the integration time for the blank; every later sample read against
    this blank uses it. Reading again is harmless (idempotent)."""

    kind: ClassVar[str] = "reference"
    result_type: ClassVar[type[Result]] = Referenced
    blank: str  # 'nonpolar', 'polar_salt', 'nonpolar_ola'
    source: str  # the vessel the blank came from
    #: a longer integration than the spectrometer's own choice (a dim cell); None: its choice
    integration_ms: float | None = None

    def params(self) -> dict[str, Any]:
        """Without ``integration_ms`` when the spectrometer chooses, as journals before it."""
        out = super().params()
        if self.integration_ms is None:
            out.pop("integration_ms")
        return out

    def describe(self) -> str:
        at = f" at {self.integration_ms:g} ms" if self.integration_ms is not None else ""
        return f"take the {self.blank} reference ({self.source}){at}"


@dataclass(frozen=True)
class Measure(Step[Measured]):
    """Read the sample in the flow cell at the integration time of its blank's reference."""

    kind: ClassVar[str] = "measure"
    result_type: ClassVar[type[Result]] = Measured
    phase: str
    blank: str  # the reference it is read against
    integration_ms: float

    def describe(self) -> str:
        return f"measure the {self.phase} sample"


@dataclass(frozen=True)
class Transfer(Step[Handled]):
    """Return the flow cell's sample to its phase in the vial (``return_samples``)."""

    kind: ClassVar[str] = "transfer"
    idempotent: ClassVar[bool] = False
    result_type: ClassVar[type[Result]] = Handled
    phase: str
    volume_ul: float

    def describe(self) -> str:
        return f"return {self.volume_ul:g} µL to the {self.phase} phase"


@dataclass(frozen=True)
class Discard(Step[Handled]):
    """Flush the flow cell to waste (emptying an empty cell is harmless: idempotent)."""

    kind: ClassVar[str] = "discard"
    result_type: ClassVar[type[Result]] = Handled

    def describe(self) -> str:
        return "flush the flow cell to waste"


@dataclass(frozen=True)
class Decide(Step[Done]):
    """Record a verdict the plan reached (pure: no device, nothing to interrupt)."""

    kind: ClassVar[str] = "decide"
    touches_device: ClassVar[bool] = False
    stage: str
    state: str
    action: str
    reasons: tuple[str, ...]
    numbers: tuple[tuple[str, float], ...]
    #: what the judged samples showed: (phase, band set, position nm, height AU) of each set's
    #: strongest band, so reports plot what the decision saw without fitting again
    bands: tuple[tuple[str, str, float, float], ...] = ()

    def describe(self) -> str:
        return f"{self.stage}: {self.state} → {self.action}"


#: What an operator may answer a run that asks (a stall, an unreadable or degraded vial):
#: ``continue`` stirs one more sampling interval and judges again (asking again if nothing
#: changed); ``extend`` grants the recipe's extend rung of stirring time more, as the stall
#: policy would; ``add_salt`` doses the policy's add-salt volume, then stirs; ``abort`` ends the
#: run here, stirrer off, recorded as aborted by the operator.
OPERATOR_CHOICES = ("continue", "extend", "add_salt", "abort")


@dataclass(frozen=True)
class AskOperator(Step[Answered]):
    """Stop and wait for the operator (a stall policy 'stop', an unreadable vial).

    ``choices`` are the answers this question takes; ``refused`` says why each other one of
    ``OPERATOR_CHOICES`` is not offered here (journaled, so ``runs resolve`` can say it)."""

    kind: ClassVar[str] = "ask_operator"
    result_type: ClassVar[type[Result]] = Answered
    touches_device: ClassVar[bool] = False
    question: str
    choices: tuple[str, ...] = OPERATOR_CHOICES
    refused: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        return f"ask the operator: {self.question}"


STEP_TYPES: dict[str, type[Step]] = {
    t.kind: t for t in (Dispense, Stir, StopStir, Wait, Settle, Sample, Reference, Measure,
                        Transfer, Discard, Decide, AskOperator)
}


def step_from_params(kind: str, params: dict[str, Any]) -> Step:
    """Rebuild a step from its journal record (the inverse of ``Step.params``)."""
    cls = STEP_TYPES[kind]
    values = {}
    for f in fields(cls):
        if f.name not in params:
            continue  # a field added since the run was journaled: its default
        v = params[f.name]
        if f.name == "numbers":
            v = tuple((str(k), float(x)) for k, x in v)
        elif f.name == "bands":
            v = tuple((str(a), str(b), float(c), float(d)) for a, b, c, d in v)
        elif f.name == "refused":
            v = tuple((str(a), str(b)) for a, b in v)
        elif isinstance(v, list):
            v = tuple(v)
        values[f.name] = v
    return cls(**values)


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What a step did: the clock when it ended and its typed result.

    The journal stores exactly this (the result as its JSON and spectra), so a resumed run
    feeds its plan the same outcomes."""

    t: float
    result: R
