"""The engine: executes a plan's steps on a lab, journaling each one. The only code with effects.

The plan is a stream of planned steps (a step with its stage), each answered with its outcome:
the clock when it ended and its typed result (``procedure/results.py``). The engine executes a
step by looking up the handler registered for its type (``engine/handlers.py``) and wraps every
handler alike: intent journaled before the device is touched, outcome after, retries, recovery.
Whoever watches gets ``Event``s of the kinds in ``EventKind`` (``engine/events.py``).

Resume works like a bluesky RunEngine rewinding to its last checkpoint: a fresh plan is built
from the journaled recipe and fed the journaled outcomes step by step (no device is touched);
each replayed step must equal the recorded one, else the run refuses to go on. At the first step
without an outcome the engine decides: an idempotent step (a wait, a read, a stirrer setting) runs
again; a non-idempotent one (a dispense, a sample draw) is re-run only if the device says it did
not happen, recorded as done if the device says it did, and otherwise the run stops for the
operator (``mscrobot runs resolve``).

Stopping between stages: given ``until_stage`` (one of the plan's ``STAGES``), the engine stops
cleanly before the first step of a later stage would run (each step arrives with its stage):
stirrer off, the run ``paused`` with the reason "paused at the end of stage …" (not Ctrl-C's
``stopped``). Nothing is special about that stop for a resume: the next ``run`` replays the
journal and goes on from that step, so a run executed stage by stage (one Prefect task each)
is the run executed at once.

Errors: ``TransientDeviceError`` is retried (3 attempts, each journaled); a
``DeviceFaultError`` or ``LabRefusalError`` is never retried: the run stops safely and is marked
failed with the step and the device's message.

Every ending takes one safe stop (``_safe_stop``): the stirrer set to 0 and read back, then each
step a device with more to leave safe gives (``StopsSafely``: the robot's motion stopped, its tip
emptied and dropped, its arm homed). Each step is journaled (``safe_stops``) with what it found;
one that fails is said in the run's reason and never skips the ones after it. A stop request
(Ctrl-C, SIGTERM, SIGHUP) reaches such a device too (``watch``): it ends the operation in hand
at its next safe point (``OperationInterrupted``), the step stays open, and the resume asks the
device whether it happened.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mscrobot.engine.events import Event, EventKind
from mscrobot.engine.handlers import (
    SPEED_TOLERANCE,
    StepContext,
    WaitInterrupted,
    handler_for,
    set_speed_checked,
)
from mscrobot.engine.journal import Journal, StepRecord
from mscrobot.engine.states import RunState, check_move
from mscrobot.lab.protocols import (
    DeviceError,
    Lab,
    OperationInterrupted,
    StopAction,
    StopsSafely,
    TransientDeviceError,
)
from mscrobot.procedure.plan import STAGES, Plan, PlanResult
from mscrobot.procedure.results import Answered, Recovered
from mscrobot.procedure.steps import AskOperator, Decide, Outcome, Step, Stir, StopStir

MAX_ATTEMPTS = 3


def answer_flag(answer: str) -> str:
    """The ``runs resolve`` option that gives ``answer`` (``add_salt`` → ``--add-salt``)."""
    return "--" + answer.replace("_", "-")


#: Floats in a replayed step's params may differ from the journal's in their last bits (a
#: verdict's numbers summed in another order by another numpy build); beyond this they are a
#: different step.
REPLAY_REL_TOL = 1e-9


def same_params(was: Any, now: Any) -> bool:
    """Whether journaled params ``was`` and a replayed step's ``now`` are the same step: equal,
    but floats within ``REPLAY_REL_TOL`` of each other (relative)."""
    if isinstance(was, dict) and isinstance(now, dict):
        return was.keys() == now.keys() and all(same_params(was[k], now[k]) for k in was)
    if isinstance(was, list) and isinstance(now, list):
        return len(was) == len(now) and all(same_params(a, b) for a, b in zip(was, now,
                                                                              strict=True))
    if isinstance(was, bool) or isinstance(now, bool):
        return type(was) is type(now) and was == now
    if isinstance(was, int | float) and isinstance(now, int | float):
        return math.isclose(was, now, rel_tol=REPLAY_REL_TOL, abs_tol=1e-300)
    return bool(was == now)


class EngineError(Exception):
    """The run cannot go on for a reason that is not a device's (a changed plan, a bad journal)."""


@dataclass
class RunEnd:
    state: RunState
    reason: str
    lab_t: float
    steps: int
    result: PlanResult | None = None
    pending: dict[str, Any] | None = None  # the operator's question, when awaiting one
    replayed: int = 0
    stage: str = ""  # the plan's stage when the run ended or stopped


class _OperatorNeededError(Exception):
    def __init__(self, n: int, question: str, choices: tuple[str, ...]) -> None:
        super().__init__(question)
        self.pending = {"step": n, "question": question, "choices": list(choices)}


class Engine:
    """Runs one recipe's plan on one lab, with one journal."""

    def __init__(self, journal: Journal, lab: Lab, plan: Plan, run_id: str,
                 on_event: Callable[[Event], None] | None = None,
                 stop_requested: threading.Event | None = None,
                 until_stage: str | None = None) -> None:
        if until_stage is not None and until_stage not in STAGES:
            raise EngineError(f"no stage '{until_stage}' (stages: {', '.join(STAGES)})")
        self.journal, self.lab, self.plan, self.run_id = journal, lab, plan, run_id
        self.on_event = on_event or (lambda e: None)
        self.stop_requested = stop_requested or threading.Event()
        self.until_stage = until_stage
        #: the stage of the step in hand (the last one the plan yielded)
        self.stage = STAGES[0]
        current = journal.state()
        self.state = RunState(current[0]) if current else RunState.CREATED
        #: a completed run is only replayed (to report its result); nothing may execute
        self.replay_only = self.state == RunState.COMPLETED

    # --- state ------------------------------------------------------------------------------

    def _move(self, to: RunState, reason: str = "") -> None:
        if self.replay_only:
            return
        check_move(self.state, to)
        self.state = to
        self.journal.set_state(str(to), self.lab.clock.now(), reason)
        self.on_event(Event(EventKind.STATE, 0, lab_t=self.lab.clock.now(),
                            message=f"{to} {reason}"))

    def _stop_stirrer(self) -> str:
        read = self.lab.stirrer.set_speed(0.0)
        if abs(read) > SPEED_TOLERANCE:
            raise DeviceError(f"it reads {read:g} rpm after being set to 0")
        return f"reads {read:g} rpm"

    def _safe_stop(self) -> str:
        """The one safe stop of every ending: each step journaled, none skipped because one
        before it failed. Returns what failed, to be added to the run's reason."""
        actions: list[StopAction] = [("stop the stirrer", self._stop_stirrer)]
        for device in (self.lab.liquid_handler,):
            if isinstance(device, StopsSafely):
                actions += device.stop_actions()
        failed = ""
        for action, do in actions:
            try:
                detail, ok = do(), True
            except DeviceError as e:
                detail, ok = f"{type(e).__name__}: {e}", False
                failed += f"; could not {action}: {e}"
            self.journal.safe_stop(action, ok, detail, self.lab.clock.now())
        return failed

    def _restore_stirring(self, n: int, rpm: float) -> None:
        """A resumed run was stirring when it stopped, and a stop (or a stirrer watchdog after a
        crash) left the motor off: turn it back on before the next step, as the plan expects."""
        read = set_speed_checked(self.lab, rpm)
        self.on_event(Event(EventKind.RESTORE, n, lab_t=self.lab.clock.now(),
                            message=f"stirrer back to {read:g} rpm, as before the stop"))

    # --- the loop -----------------------------------------------------------------------------

    def run(self) -> RunEnd:
        self._move(RunState.RUNNING, "resumed" if self.journal.steps() else "started")
        if isinstance(self.lab.liquid_handler, StopsSafely):
            self.lab.liquid_handler.watch(self.stop_requested)
        gen = self.plan.steps()
        n, replayed = 0, 0
        rpm = 0.0  # the speed the journaled steps left the stirrer at
        try:
            planned = next(gen)
            while True:
                self.lab.keep_alive()  # device watchdogs follow this loop: a hang trips them
                n += 1
                step, self.stage = planned.step, planned.stage
                rec = self.journal.step(n)
                if rec is not None and rec.status == "done":
                    self._check_same(rec, step)
                    outcome = self.journal.recorded_outcome(rec, step.result_type)
                    replayed += 1
                    if isinstance(step, Stir | StopStir):
                        rpm = step.rpm if isinstance(step, Stir) else 0.0
                else:
                    if self.replay_only:
                        raise EngineError(f"the journal says the run completed but step {n} "
                                          "has no outcome")
                    if self._stage_over():
                        reason = (f"paused at the end of stage '{self.until_stage}'"
                                  + self._safe_stop())
                        self._move(RunState.PAUSED, reason)
                        return RunEnd(self.state, reason, self.lab.clock.now(), n - 1,
                                      replayed=replayed, stage=self.stage)
                    if self.stop_requested.is_set():
                        reason = self._safe_stop()
                        by = getattr(self.stop_requested, "by", "Ctrl-C")
                        to, what = self._stop_kind()
                        self._move(to, f"{what} by the operator ({by})" + reason)
                        return RunEnd(self.state, f"{what} by the operator" + reason,
                                      self.lab.clock.now(), n - 1, replayed=replayed,
                                      stage=self.stage)
                    if rec is not None:
                        self._check_same(rec, step)
                    if rpm > 0 and not isinstance(step, Stir | StopStir):
                        self._restore_stirring(n, rpm)
                    rpm = 0.0
                    outcome = self._execute(n, step, rec)
                    self.on_event(Event(EventKind.STEP, n, step, outcome, outcome.t))
                planned = gen.send(outcome)
        except StopIteration as stop:
            result: PlanResult = stop.value
            reason = "" if self.replay_only else self._safe_stop()
            self._move(RunState.COMPLETED, result.end + reason)
            return RunEnd(self.state, result.end, self.lab.clock.now(), n, result,
                          replayed=replayed, stage=self.stage)
        except (WaitInterrupted, OperationInterrupted) as cut:
            reason = self._safe_stop()
            to, what = self._stop_kind()
            self._move(to, f"{what} by the operator during step {n}: {cut}" + reason)
            return RunEnd(self.state, f"{what} by the operator" + reason, self.lab.clock.now(),
                          n - 1, replayed=replayed, stage=self.stage)
        except _OperatorNeededError as ask:
            reason = self._safe_stop()
            self._move(RunState.AWAITING_OPERATOR, str(ask) + reason)
            return RunEnd(self.state, str(ask), self.lab.clock.now(), n, pending=ask.pending,
                          replayed=replayed, stage=self.stage)
        except DeviceError as e:
            msg = f"step {n} ({step.describe()}): {type(e).__name__}: {e}"
            self.journal.fail(n, msg, self.lab.clock.now())
            reason = self._safe_stop()
            self._move(RunState.FAILED, msg + reason)
            return RunEnd(self.state, msg + reason, self.lab.clock.now(), n, replayed=replayed,
                          stage=self.stage)
        finally:
            gen.close()  # a wrapper of the plan gives back what it holds now, not when collected

    def _stop_kind(self) -> tuple[RunState, str]:
        """A stop request that asks for a pause (``StopRequest.pause``) leaves the run
        ``paused``; any other, ``stopped``. Both stop the same way and resume alike."""
        if getattr(self.stop_requested, "pause", False):
            return RunState.PAUSED, "paused"
        return RunState.STOPPED, "stopped"

    def _stage_over(self) -> bool:
        """Whether the step in hand belongs to a stage after ``until_stage``."""
        return (self.until_stage is not None
                and STAGES.index(self.stage) > STAGES.index(self.until_stage))

    def _check_same(self, rec: StepRecord, step: Step) -> None:
        now = json.loads(json.dumps(step.params()))
        was = rec.params
        if isinstance(step, AskOperator):
            # the answers offered are what this version asks with; the plan goes on from the
            # answer given, so a question journaled with older choices replays as well
            now, was = now["question"], was.get("question")
        if rec.kind != step.kind or not same_params(was, now):
            raise EngineError(
                f"journal step {rec.n} was '{rec.kind}' {rec.params} but the plan now asks "
                f"'{step.kind}' {now}: the code changed since this run started, so it cannot "
                "be resumed safely")

    # --- one step -------------------------------------------------------------------------------

    def _execute(self, n: int, step: Step[Any], rec: StepRecord | None) -> Outcome[Any]:
        clock = self.lab.clock
        if isinstance(step, AskOperator):
            return self._ask(n, step, rec)
        handler = handler_for(type(step))
        if handler is None:
            raise EngineError(f"the engine cannot execute a '{step.kind}' step")
        if not step.touches_device:
            result = handler(StepContext(self.lab, self._op(n)), step)
            outcome = Outcome(clock.now(), result)
            self.journal.outcome(n, step, outcome, pure=True, later=True)
            if isinstance(step, Decide):
                self.on_event(Event(EventKind.VERDICT, n, step, outcome, outcome.t))
            return outcome
        if rec is None:
            self.journal.intent(n, step, clock.now(), step.deadline(clock.now()))
            rec = self.journal.step(n)
            assert rec is not None
        else:
            if rec.status == "failed":  # resumed after the operator dealt with the fault
                self.journal.forget_failure(n)
            if not step.idempotent:  # it may have happened, wholly or in part
                done = self._interrupted(n, step)
                if done is not None:
                    self.journal.outcome(n, step, done)
                    return done
        context = StepContext(self.lab, self._op(n), rec.deadline_t, self.stop_requested)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                result = handler(context, step)
                break
            except TransientDeviceError as e:
                self.journal.attempt(n)
                self.on_event(Event(EventKind.RETRY, n, step, lab_t=clock.now(),
                                    message=f"attempt {attempt}: {e}"))
                if attempt == MAX_ATTEMPTS:
                    raise
                clock.sleep_until(clock.now() + 2.0 * attempt)
        outcome = Outcome(clock.now(), result)  # the clock once the device is done
        self.journal.outcome(n, step, outcome, later=True)
        return outcome

    def _op(self, n: int) -> str:
        """The operation id of step ``n``, which devices record (``status_of`` asks by it)."""
        return f"{self.run_id}/{n}"

    def _interrupted(self, n: int, step: Step[Any]) -> Outcome[Recovered] | None:
        """An outcome if the interrupted step is known to have happened; None to run it again."""
        status = self.lab.liquid_handler.status_of(self._op(n))
        if status == "unknown":
            answer = self.journal.operator_answer(n)
            if answer is None:
                raise _OperatorNeededError(
                    n, f"step {n} ({step.describe()}) was interrupted and the liquid handler "
                    "cannot say whether it happened; check the vessel and answer with "
                    f"`mscrobot runs resolve {self.run_id} --step {n} --done|--not-done`",
                    ("done", "not-done"))
            status = "done" if answer == "done" else "not_done"
            source = "operator"
        else:
            source = "device"
        if status == "done":
            return Outcome(self.lab.clock.now(), Recovered(self.lab.liquid_handler.volumes(),
                                                           recovered_by=source))
        return None

    def _ask(self, n: int, step: AskOperator, rec: StepRecord | None) -> Outcome[Answered]:
        if rec is None:
            self.journal.intent(n, step, self.lab.clock.now(), None)
        answer = self.journal.operator_answer(n)
        if answer is None:
            flags = "|".join(answer_flag(c) for c in step.choices)
            raise _OperatorNeededError(n, step.question + f"; answer with `mscrobot runs resolve "
                                       f"{self.run_id} --step {n} {flags}`", step.choices)
        outcome = Outcome(self.lab.clock.now(), Answered(answer))
        self.journal.outcome(n, step, outcome)
        return outcome
