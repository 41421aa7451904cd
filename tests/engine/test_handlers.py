"""Step kinds, their typed results and the handlers the engine finds by the step's type."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, get_args

import numpy as np
import pytest

from mscrobot.engine.events import Event, EventKind
from mscrobot.engine.handlers import StepContext, handler_for, handles
from mscrobot.engine.journal import Journal
from mscrobot.engine.runner import Engine, EngineError
from mscrobot.engine.states import RunState
from mscrobot.lab.protocols import Lab
from mscrobot.procedure.plan import PlanGenerator, PlannedStep, PlanResult
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
    result_from_journal,
)
from mscrobot.procedure.steps import STEP_TYPES, AskOperator, Sample, Settle, Step, Stir, Wait
from mscrobot.spectra.types import Spectrum
from tests.clocks import SteppedClock


def _spectrum(kind: str) -> Spectrum:
    return Spectrum(np.linspace(300.0, 400.0, 5), np.arange(5.0), 12.5, meta={"kind": kind})


def test_every_step_kind_names_its_result_and_has_a_handler() -> None:
    """``result_type`` is the ``R`` of ``Step[R]`` (what the plan reads it as); an interrupted
    non-idempotent step may come back as a ``Recovered``, so ``R`` must admit one."""
    for kind, step_type in STEP_TYPES.items():
        (declared,) = get_args(next(b for b in step_type.__orig_bases__  # type: ignore[attr-defined]
                                    if getattr(b, "__origin__", None) is Step))
        possible = get_args(declared) or (declared,)
        assert step_type.result_type in possible, kind
        if not step_type.idempotent:
            assert any(issubclass(Recovered, t) for t in possible), kind
        if step_type is not AskOperator:  # the engine answers it from the journal
            assert handler_for(step_type) is not None, kind
    assert not Sample.idempotent and Stir.idempotent
    # a step class without a handler of its own has its base class's: a settle is a wait
    assert handler_for(Settle) is handler_for(Wait)


RESULTS: list[Result] = [
    Done(), Stirred(998.0), Answered("extend"),
    Handled({"reaction": 1500.0, "salt_stock": 13480.0}),
    Handled({"reaction": 1500.0}, ("c1", "c2")),
    Sampled({"flow_cell": 20.0}, None, height_mm=13.6),
    Recovered({"reaction": 3000.0}, recovered_by="operator"),
    Referenced(12.5, _spectrum("dark"), _spectrum("reference")),
    Measured(_spectrum("sample")),
]


@pytest.mark.parametrize("result", RESULTS, ids=lambda r: type(r).__name__)
def test_a_result_is_rebuilt_from_what_the_journal_keeps(result: Result) -> None:
    data = json.loads(json.dumps(result.journal_data()))
    rebuilt = result_from_journal(type(result), data, result.spectra())
    assert type(rebuilt) is type(result) and rebuilt == result
    assert rebuilt.journal_data() == data


def test_results_write_the_keys_journals_have_always_had() -> None:
    assert list(Sampled({"a": 1.0}, ("x",), height_mm=2.0).journal_data()) == [
        "height_mm", "vessels", "robot_commands"]
    assert Handled({"a": 1.0}).journal_data() == {"vessels": {"a": 1.0}}  # no robot, no ids
    assert Recovered({"a": 1.0}, recovered_by="device").journal_data() == {
        "recovered_by": "device", "vessels": {"a": 1.0}}
    # a recovery is recognised whatever the step kind's own result is
    assert isinstance(result_from_journal(Sampled, {"recovered_by": "device", "vessels": {}},
                                          ()), Recovered)
    assert Stirred.from_journal({"rpm": 600}, ()) == Stirred(600.0)


def test_a_result_is_frozen_down_to_its_volumes() -> None:
    volumes = {"reaction": 1.0}
    result = Handled(volumes)
    volumes["reaction"] = 2.0
    assert result.vessels == {"reaction": 1.0}
    with pytest.raises(TypeError):
        result.vessels["reaction"] = 3.0  # type: ignore[index]


# --- the registry, through the engine --------------------------------------------------------


@dataclass(frozen=True)
class Chime(Step[Stirred]):
    """A step kind only this test knows: it registers its own handler."""

    kind: ClassVar[str] = "chime"
    result_type: ClassVar[type[Result]] = Stirred
    rpm: float


@handles(Chime)
def _chime(ctx: StepContext, step: Chime) -> Stirred:
    return Stirred(ctx.lab.stirrer.set_speed(step.rpm))


@dataclass(frozen=True)
class Unhandled(Step[Done]):
    kind: ClassVar[str] = "unhandled"



class Stirrer:
    def __init__(self) -> None:
        self.speeds: list[float] = []

    def set_speed(self, rpm: float) -> float:
        self.speeds.append(rpm)
        return rpm

    def speed(self) -> float:
        return self.speeds[-1] if self.speeds else 0.0


def _lab() -> tuple[Lab, Stirrer]:
    stirrer = Stirrer()
    return Lab("fake", SteppedClock(), None, stirrer, None), stirrer  # type: ignore[arg-type]


class ListPlan:
    def __init__(self, steps: list[Step[Any]]) -> None:
        self.plan_steps, self.closed = steps, False
        self.results: list[Result] = []

    def steps(self) -> PlanGenerator:
        try:
            for k, step in enumerate(self.plan_steps):
                outcome = yield PlannedStep(step, "setup" if k == 0 else "forward")
                self.results.append(outcome.result)
        finally:
            self.closed = True
        return PlanResult("finished")


def test_a_new_step_kind_runs_through_its_registered_handler() -> None:
    lab, stirrer = _lab()
    plan = ListPlan([Chime(440.0), Wait(30.0, "listen"), Chime(0.0)])
    journal = Journal(Path(":memory:"))
    events: list[Event] = []
    end = Engine(journal, lab, plan, "t", events.append).run()
    journal.flush()
    assert end.state == RunState.COMPLETED and end.stage == "forward"
    assert plan.results == [Stirred(440.0), Done(), Stirred(0.0)]
    assert stirrer.speeds == [440.0, 0.0, 0.0]  # the last: the engine's safe stop at the end
    assert [(s.kind, s.outcome, s.ended_t) for s in journal.steps()] == [
        ("chime", {"rpm": 440.0}, 0.0), ("wait", {}, 30.0), ("chime", {"rpm": 0.0}, 30.0)]
    assert [e.kind for e in events if e.kind != EventKind.STATE] == [EventKind.STEP] * 3
    with pytest.raises(ValueError, match="'chime' already has a handler"):
        handles(Chime)(_chime)


def test_a_kind_without_a_handler_is_refused_before_its_intent() -> None:
    lab, _ = _lab()
    journal = Journal(Path(":memory:"))
    with pytest.raises(EngineError, match="cannot execute a 'unhandled' step"):
        Engine(journal, lab, ListPlan([Unhandled()]), "t").run()
    assert journal.steps() == []


def test_the_engine_pauses_at_a_stage_from_the_stream_and_closes_it() -> None:
    """The stage comes with each step (no plan attribute is read); the stream is closed when
    the run pauses, so a wrapper of it gives back what it holds at once."""
    lab, stirrer = _lab()
    plan = ListPlan([Chime(440.0), Chime(0.0)])
    journal = Journal(Path(":memory:"))
    end = Engine(journal, lab, plan, "t", until_stage="setup").run()
    assert end.state == RunState.PAUSED and end.stage == "forward" and end.steps == 1
    assert plan.closed and plan.results == [Stirred(440.0)]
    assert stirrer.speeds == [440.0, 0.0]  # the second: the pause's safe stop


def test_a_replay_tolerates_the_last_bits_of_a_float_and_nothing_more() -> None:
    from mscrobot.engine.runner import same_params

    was = {"stage": "forward", "numbers": [["remaining_sd", 0.0007776654128068773]],
           "reasons": ["x"], "n": 3}
    last_bit = {**was, "numbers": [["remaining_sd", 0.0007776654128068774]]}
    assert same_params(was, last_bit)
    assert not same_params(was, {**was, "numbers": [["remaining_sd", 0.00077767]]})
    assert not same_params(was, {**was, "reasons": ["y"]})
    assert not same_params(was, {**was, "n": 4}) and not same_params(was, {**was, "extra": 1})
    assert same_params({"t": 2}, {"t": 2.0}) and not same_params({"b": True}, {"b": 1.0})
