"""One implementation per step kind, found by the step's type (the Implementation of an
Opentrons protocol-engine command; the verb registry of a bluesky RunEngine).

A handler does the step's one device action on the lab and returns the step's typed result;
the engine around it journals the intent and the outcome, retries transient errors and
recovers interrupted steps, the same for every kind. A new step kind declares its result type
and whether it is idempotent on the step class (``procedure/steps.py``) and registers its
handler here with ``@handles``. A step class with no handler of its own uses its base class's
(a ``Settle`` is a ``Wait``). The operator's question (``AskOperator``) has none: the engine
answers it from the journal or stops for the operator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mscrobot.lab.protocols import DeviceFaultError, Lab, RecordsCommands
from mscrobot.procedure.results import (
    Done,
    Handled,
    Measured,
    Referenced,
    Result,
    Sampled,
    Stirred,
)
from mscrobot.procedure.steps import (
    Decide,
    Discard,
    Dispense,
    Measure,
    Reference,
    Sample,
    Step,
    Stir,
    StopStir,
    Transfer,
    Wait,
)

#: How far the stirrer's read-back speed may be from the set one (fraction) before it is a fault.
SPEED_TOLERANCE = 0.05


@dataclass(frozen=True)
class StepContext:
    """What a handler may use: the lab, the operation id its devices record (``run/n``), and
    the deadline journaled with the step's intent (a wait's; None for other steps)."""

    lab: Lab
    op: str
    deadline_t: float | None = None
    #: set when the run is asked to stop (Ctrl-C, SIGTERM, SIGHUP): a wait in real time ends
    stop: threading.Event | None = None


class WaitInterrupted(Exception):  # noqa: N818 (a stop, not an error)
    """A wait in real time was cut short by a stop request; its deadline stays journaled, so a
    resume waits out what is left of it."""


#: Longest piece a real-time wait sleeps before it looks at the stop request again (s).
WAKE_S = 0.5


S = TypeVar("S", bound=Step[Any])
Handler = Callable[[StepContext, S], Result]

_HANDLERS: dict[type[Step[Any]], Handler[Any]] = {}


def handles(*step_types: type[S]) -> Callable[[Handler[S]], Handler[S]]:
    """Register the decorated function as the handler of ``step_types``."""

    def register(handler: Handler[S]) -> Handler[S]:
        for step_type in step_types:
            if step_type in _HANDLERS:
                raise ValueError(f"step kind '{step_type.kind}' already has a handler")
            _HANDLERS[step_type] = handler
        return handler

    return register


def handler_for(step_type: type[Step[Any]]) -> Handler[Any] | None:
    """The handler of ``step_type``, or of its nearest base class that has one."""
    for cls in step_type.__mro__:
        found = _HANDLERS.get(cls)
        if found is not None:
            return found
    return None


def set_speed_checked(lab: Lab, rpm: float) -> float:
    """Set the stirrer to ``rpm`` and return the speed it reads back, which must be close."""
    read = lab.stirrer.set_speed(rpm)
    if abs(read - rpm) > SPEED_TOLERANCE * max(rpm, 1.0):
        raise DeviceFaultError(f"stirrer reads {read:g} rpm after being set to {rpm:g} rpm")
    return read


def _robot_commands(ctx: StepContext) -> tuple[str, ...] | None:
    """The robot's own record of the operation's commands, if the handler is such a robot."""
    lh = ctx.lab.liquid_handler
    return tuple(lh.command_ids(ctx.op)) if isinstance(lh, RecordsCommands) else None


@handles(Wait)
def _wait(ctx: StepContext, step: Wait) -> Done:
    assert ctx.deadline_t is not None, "a wait's deadline is journaled with its intent"
    clock = ctx.lab.clock
    if not getattr(clock, "real_time", False):
        clock.sleep_until(ctx.deadline_t)
        return Done()
    while clock.now() < ctx.deadline_t:
        if ctx.stop is not None and ctx.stop.is_set():
            raise WaitInterrupted(f"{step.describe()} stopped {ctx.deadline_t - clock.now():.0f} "
                                  "s before its end")
        ctx.lab.keep_alive()  # the stirrer's watchdog lives on this loop, not on a thread
        clock.sleep_until(min(ctx.deadline_t, clock.now() + WAKE_S))
    return Done()


@handles(Stir)
def _stir(ctx: StepContext, step: Stir) -> Stirred:
    return Stirred(set_speed_checked(ctx.lab, step.rpm))


@handles(StopStir)
def _stop_stir(ctx: StepContext, step: StopStir) -> Stirred:
    return Stirred(set_speed_checked(ctx.lab, 0.0))


@handles(Dispense)
def _dispense(ctx: StepContext, step: Dispense) -> Handled:
    lh = ctx.lab.liquid_handler
    lh.dispense(ctx.op, step.source, step.dest, step.volume_ul, step.layer)
    return Handled(lh.volumes(), _robot_commands(ctx))


@handles(Sample)
def _sample(ctx: StepContext, step: Sample) -> Sampled:
    lh = ctx.lab.liquid_handler
    height = lh.sample(ctx.op, step.vessel, step.phase, step.volume_ul, step.depth_mm)
    return Sampled(lh.volumes(), _robot_commands(ctx), height_mm=height)


@handles(Transfer)
def _transfer(ctx: StepContext, step: Transfer) -> Handled:
    lh = ctx.lab.liquid_handler
    lh.return_sample(ctx.op, "reaction", step.phase, step.volume_ul)
    return Handled(lh.volumes(), _robot_commands(ctx))


@handles(Discard)
def _discard(ctx: StepContext, step: Discard) -> Handled:
    lh = ctx.lab.liquid_handler
    lh.flush_cell(ctx.op)
    return Handled(lh.volumes(), _robot_commands(ctx))


@handles(Reference)
def _reference(ctx: StepContext, step: Reference) -> Referenced:
    dark, reference = ctx.lab.spectrometer.reference(ctx.op, step.blank, step.integration_ms)
    return Referenced(reference.integration_ms, dark, reference)


@handles(Measure)
def _measure(ctx: StepContext, step: Measure) -> Measured:
    return Measured(ctx.lab.spectrometer.measure(ctx.op, step.integration_ms))


@handles(Decide)
def _decide(ctx: StepContext, step: Decide) -> Done:
    return Done()  # the verdict is the step's params: nothing to do but record it
