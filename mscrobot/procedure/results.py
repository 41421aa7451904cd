"""What each kind of step did: typed, frozen results (the Result of a Params/Result pair).

The engine's handler for a step returns one of these; the plan reads its fields instead of
string keys. The journal stores ``journal_data()`` as the step's outcome JSON and ``spectra()``
as its spectra, with the keys journals have always had, so ``from_journal`` rebuilds the same
result from a journal written by any earlier version (a key added since is ``None`` there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Self

from mscrobot.spectra.types import Spectrum


@dataclass(frozen=True)
class Result:
    """Base of step results: a step that only took time (a wait, a settle, a verdict)."""

    def journal_data(self) -> dict[str, Any]:
        """The outcome JSON the journal keeps for the step."""
        return {}

    def spectra(self) -> tuple[Spectrum, ...]:
        """The spectra the step read, journaled with it in this order."""
        return ()

    @classmethod
    def from_journal(cls, data: Mapping[str, Any], spectra: tuple[Spectrum, ...]) -> Self:
        return cls()


@dataclass(frozen=True)
class Done(Result):
    """Wait, settle, decide: nothing to report but the time it ended."""


@dataclass(frozen=True)
class Stirred(Result):
    """Stir and stop: the speed read back from the stirrer after setting it."""

    rpm: float

    def journal_data(self) -> dict[str, Any]:
        return {"rpm": self.rpm}

    @classmethod
    def from_journal(cls, data: Mapping[str, Any], spectra: tuple[Spectrum, ...]) -> Self:
        return cls(float(data["rpm"]))


def _volumes(data: Mapping[str, Any]) -> Mapping[str, float] | None:
    found = data.get("vessels")
    return None if found is None else {str(k): float(v) for k, v in found.items()}


@dataclass(frozen=True)
class Handled(Result):
    """A liquid-handling step (dispense, transfer, discard): every vessel's volume as the
    handler believes it afterwards (µL), and the robot's command ids for the operation when the
    handler is a robot that records them (Opentrons; ``None``: it keeps no such record).
    ``vessels`` is ``None`` only in journals older than the volumes being recorded."""

    vessels: Mapping[str, float] | None
    robot_commands: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.vessels is not None:  # frozen all the way down: the plan copies what it keeps
            object.__setattr__(self, "vessels", MappingProxyType(dict(self.vessels)))

    def journal_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.vessels is not None:
            data["vessels"] = dict(self.vessels)
        if self.robot_commands is not None:
            data["robot_commands"] = list(self.robot_commands)
        return data

    @classmethod
    def from_journal(cls, data: Mapping[str, Any], spectra: tuple[Spectrum, ...]) -> Self:
        commands = data.get("robot_commands")
        return cls(_volumes(data), None if commands is None else tuple(map(str, commands)))


@dataclass(frozen=True)
class Sampled(Handled):
    """A sample drawn into the flow cell: also the tip height the handler chose (mm; ``None``
    only in journals older than the heights being recorded)."""

    height_mm: float | None = field(kw_only=True)

    def journal_data(self) -> dict[str, Any]:
        head = {} if self.height_mm is None else {"height_mm": self.height_mm}
        return head | super().journal_data()

    @classmethod
    def from_journal(cls, data: Mapping[str, Any], spectra: tuple[Spectrum, ...]) -> Self:
        base = Handled.from_journal(data, spectra)
        height = data.get("height_mm")
        return cls(base.vessels, base.robot_commands,
                   height_mm=None if height is None else float(height))


@dataclass(frozen=True)
class Recovered(Handled):
    """An interrupted non-idempotent step found to have happened, and who said so (``device``:
    the liquid handler's ``status_of``; ``operator``: ``runs resolve --done``); the volumes are
    the handler's when the run resumed. It stands for the step's own result, which was lost."""

    recovered_by: str = field(kw_only=True)

    def journal_data(self) -> dict[str, Any]:
        return {"recovered_by": self.recovered_by} | super().journal_data()

    @classmethod
    def from_journal(cls, data: Mapping[str, Any], spectra: tuple[Spectrum, ...]) -> Self:
        base = Handled.from_journal(data, spectra)
        return cls(base.vessels, base.robot_commands, recovered_by=str(data["recovered_by"]))


@dataclass(frozen=True)
class Referenced(Result):
    """A blank read as a reference: the integration time the spectrometer chose for it, and the
    dark and reference spectra every later sample against this blank is read with."""

    integration_ms: float
    dark: Spectrum
    reference: Spectrum

    def journal_data(self) -> dict[str, Any]:
        return {"integration_ms": self.integration_ms}

    def spectra(self) -> tuple[Spectrum, ...]:
        return (self.dark, self.reference)

    @classmethod
    def from_journal(cls, data: Mapping[str, Any], spectra: tuple[Spectrum, ...]) -> Self:
        dark, reference = spectra
        return cls(float(data["integration_ms"]), dark, reference)


@dataclass(frozen=True)
class Measured(Result):
    """The sample in the flow cell, read."""

    spectrum: Spectrum

    def spectra(self) -> tuple[Spectrum, ...]:
        return (self.spectrum,)

    @classmethod
    def from_journal(cls, data: Mapping[str, Any], spectra: tuple[Spectrum, ...]) -> Self:
        (spectrum,) = spectra
        return cls(spectrum)


@dataclass(frozen=True)
class Answered(Result):
    """The operator's answer to a question (one of the question's choices)."""

    answer: str

    def journal_data(self) -> dict[str, Any]:
        return {"answer": self.answer}

    @classmethod
    def from_journal(cls, data: Mapping[str, Any], spectra: tuple[Spectrum, ...]) -> Self:
        return cls(str(data["answer"]))


def result_from_journal(result_type: type[Result], data: Mapping[str, Any],
                        spectra: tuple[Spectrum, ...]) -> Result:
    """The result a journaled outcome records: a recovery if it says who recovered the step,
    else the step kind's own ``result_type``."""
    if "recovered_by" in data:
        return Recovered.from_journal(data, spectra)
    return result_type.from_journal(data, spectra)
