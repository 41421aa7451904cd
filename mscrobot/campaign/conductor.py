"""Runs many engines under one scheduler: each run in its own thread, one thread moving at a time.

Each run is an ordinary ``Engine`` with its own lab, journal, virtual clock and random streams;
its plan is wrapped (``gating.GatedPlan``, with the run's ``Gate``) so that before a step that
needs a shared resource the run waits, in campaign time, until the scheduler grants it. The
conductor hands control to one run thread at a time, in the scheduler's event order, so a
campaign is deterministic: the same file and seeds give the same schedule, step for step.

Time model. Run ``r`` starts at campaign time ``offset_r``, when the scheduler lets it in
(``Scheduler.admit``: at most ``ahead`` runs beyond the free stir positions); its own clock
starts at 0 there (its journal reads like a solo run's), so campaign time = offset_r + run time.
Its opening steps that do not touch its vial (the reference blanks: sample a stock, read it,
flush) need only the arm and the flow cell; it takes its stir position at its first step on
the vial, and if none is free its clock is advanced to the grant (the vial is still empty; the
references are that much older, and the twin's lamp drift, a function of the run's own clock,
grows with that age as a real lamp's would). Between shared-resource steps a run may run ahead
on its own clock (a wait, a settle, a verdict touch nothing shared). Before a step that needs
the robot or the spectrometer, the run catches up with campaign time and asks; if it is granted
later, the run's clock is advanced to the grant: the vial sits for that time and its twin keeps
evolving (settling, slow transfer, evaporation), as a real vial waiting for the arm would. The
journal shows that gap before the step; the decisions then see the vial as it is at the sample,
never a corrected one.

Resumed runs (``mscrobot campaign --resume``). A run whose process died part-way comes back as
a job with a ``Reentry``: the steps its journal already has replay without the scheduler (the
engine touches no device for them, so they need no resource and take no campaign time), and
before its first new step the run takes back what it held when it stopped: its stir position
(the same one, reserved for it from the start: the vial stands on it), its shared stirrer
speed, the flow cell it had filled. Resumed runs are let in first (see ``record``), so the
runs that held something when the campaign stopped hold it again before any new run starts.
Its own clock goes on from its journaled lab time ``T`` (the world, or the lab, says where it
is), so its offset in the new campaign time is its entry time minus ``T``; a first start is
the case ``T = 0``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mscrobot.campaign.gating import GatedPlan, Reentry, ResourceGate
from mscrobot.campaign.resources import POSITION, SPEED, Use
from mscrobot.campaign.scheduler import (
    AHEAD,
    CONTINUE,
    FINISH_CELL,
    OTHER,
    PROLOGUE,
    SAMPLE,
    Scheduler,
    SchedulerError,
)
from mscrobot.lab.protocols import Clock
from mscrobot.procedure.plan import Plan
from mscrobot.procedure.steps import Outcome, Step


@dataclass(frozen=True)
class StepTimes:
    """One shared-resource step of a run, in campaign seconds."""

    run: int
    n: int
    kind: str
    resources: tuple[str, ...]
    requested: float
    start: float
    end: float


@dataclass
class JobResult:
    """``offset``: campaign time the run started; ``placed``: when it got stir position
    ``position`` (None: it never needed one), after waiting ``position_wait`` s for it;
    ``resumed_lab_t``: a resumed run's own clock when it was taken up again (None: a start)."""

    index: int
    offset: float
    position: int | None = None
    placed: float | None = None
    position_wait: float = 0.0
    end: float = 0.0
    value: Any = None
    error: str | None = None
    resumed_lab_t: float | None = None


class Gate(ResourceGate):
    """One run's door to the scheduler, used from the run's thread only."""

    def __init__(self, conductor: Conductor, run: int, offset: float,
                 result: JobResult | None = None, reentry: Reentry | None = None) -> None:
        self.conductor, self.run, self.offset = conductor, run, offset
        self.result = result if result is not None else JobResult(run, offset)
        self.reentry = reentry
        self.go = threading.Semaphore(0)
        #: the run's clock, once its lab is built (``gate_plan``)
        self._clock: Clock | None = None
        #: the shared resources the run leases (the flow cell it filled), as of its step in hand
        self.leases: frozenset[str] = frozenset()
        #: the previous step used a shared resource (the run is mid-sequence: a second sample)
        self.in_sequence = False
        #: (requested, start) in campaign time of the step in hand
        self._times = (0.0, 0.0)
        self.steps: list[StepTimes] = []

    def gate_plan(self, plan: Plan, clock: Clock) -> GatedPlan:
        """The run's plan, each step let in by this gate; ``clock``: the run's own."""
        self._clock = clock
        return GatedPlan(plan, self, self.reentry)

    @property
    def clock(self) -> Clock:
        assert self._clock is not None, "the gate times a run only once its plan is gated"
        return self._clock

    @property
    def now(self) -> float:
        return self.conductor.scheduler.now

    def _block(self) -> None:
        self.conductor.baton.release()
        self.go.acquire()

    def wait_until(self, t: float) -> None:
        """Let campaign time reach ``t`` (other runs move meanwhile)."""
        if t > self.now:
            self.conductor.scheduler.wake(self.run, t)
            self._block()

    def acquire(self, resources: frozenset[str], what: str, priority: int) -> float:
        self.conductor.scheduler.request(self.run, resources, what, priority)
        self._block()
        return self.now

    def place(self, position: int | None = None) -> float:
        """Wait for a stir position (the run's first step on its vial; ``position``: that one);
        the grant time."""
        if self.leases:
            raise SchedulerError(f"run {self.run} needs its stir position while it holds "
                                 f"{', '.join(sorted(self.leases))}: could deadlock")
        requested = self.now
        self.conductor.scheduler.place(self.run, position)
        self._block()
        res = self.result
        res.position = self.conductor.scheduler.position_of(self.run)
        res.placed, res.position_wait = self.now, self.now - requested
        if self.conductor.on_place is not None and res.position is not None:
            self.conductor.on_place(self.run, res.position, self.now)
        return self.now

    @property
    def placed(self) -> bool:
        return self.result.placed is not None

    def stir(self, rpm: float) -> float:
        """Turn at ``rpm`` on a shared-speed device: wait until the device can; the grant time."""
        sched = self.conductor.scheduler
        if self.leases:
            raise SchedulerError(f"run {self.run} stirs while it holds "
                                 f"{', '.join(sorted(self.leases))}: could deadlock")
        if sched.stirring(self.run):
            if sched.stirring_at(self.run) == rpm:
                return self.now
            # its vial would go on turning at the old speed while it waits for the new one
            raise SchedulerError(f"run {self.run} changes speed mid-stir on a shared-speed "
                                 "device (stop first)")
        sched.stir(self.run, rpm)
        self._block()
        return self.now

    def release(self, resources: frozenset[str]) -> None:
        if resources:
            self.conductor.scheduler.release(self.run, resources)

    # --- the steps (ResourceGate) ----------------------------------------------------------

    def start(self) -> None:
        """The run's clock now reads campaign time - ``offset``."""
        now = self.clock.now()
        if self.reentry is not None:
            self.result.resumed_lab_t = now
        self.offset -= now  # 0 for a run that starts; its journaled time if resumed

    def reenter(self, back: Reentry) -> None:
        """Take back the stir position, the shared speed and the flow cell the run held."""
        clock = self.clock
        self.wait_until(self.offset + clock.now())
        if back.on_vial:
            clock.sleep_until(self.place(back.position) - self.offset)
        if back.rpm is not None and self.conductor.scheduler.speed_group(self.run) is not None:
            clock.sleep_until(self.stir(back.rpm) - self.offset)
        if back.leases:
            clock.sleep_until(self.acquire(back.leases, "resume", FINISH_CELL) - self.offset)
        self.in_sequence = back.in_sequence

    def before(self, n: int, step: Step[Any], use: Use, needs: frozenset[str],
               leases: frozenset[str]) -> None:
        """Place the run at its first step on its vial, wait for a shared speed, then for the
        resources; each wait advances the run's clock to its grant (the vial waits too)."""
        clock, sched = self.clock, self.conductor.scheduler
        self.leases = leases
        if POSITION in use.during | use.opens and not self.placed:
            self.wait_until(self.offset + clock.now())
            clock.sleep_until(self.place() - self.offset)  # the empty vial waits: nothing evolves
        if SPEED in use.opens and sched.speed_group(self.run) is not None:
            self.wait_until(self.offset + clock.now())
            clock.sleep_until(self.stir(float(step.params()["rpm"])) - self.offset)
        requested = start = self.offset + clock.now()
        if needs:
            self.wait_until(requested)
            priority = (FINISH_CELL if leases else CONTINUE if self.in_sequence
                        else PROLOGUE if not self.placed
                        else SAMPLE if step.kind == "sample" else OTHER)
            start = self.acquire(needs, step.kind, priority)
            if start > requested:
                clock.sleep_until(start - self.offset)  # the vial waits; its chemistry goes on
        self.in_sequence = bool(use.shared)
        self._times = (requested, start)

    def after(self, n: int, step: Step[Any], use: Use, release: frozenset[str],
              outcome: Outcome[Any]) -> None:
        """At the step's end in campaign time: stop a shared speed, release, record the step."""
        sched = self.conductor.scheduler
        if SPEED in use.closes and sched.stirring(self.run):
            self.wait_until(self.offset + outcome.t)
            sched.stop_stir(self.run)
        if release or use.shared:
            self.wait_until(self.offset + outcome.t)
            self.release(release)
            requested, start = self._times
            self.steps.append(StepTimes(self.run, n, step.kind, tuple(sorted(use.shared)),
                                        requested, start, self.offset + outcome.t))


@dataclass
class Job:
    """One run: ``execute(gate)`` runs it to its end in its own thread and returns its result;
    ``end_time(result)`` is the run's own clock at the end; ``reentry``: a resumed run's."""

    execute: Callable[[Gate], Any]
    end_time: Callable[[Any], float]
    reentry: Reentry | None = None


@dataclass
class Conductor:
    """``ahead``: runs let in before a stir position is free for them (``Scheduler.ahead``);
    ``speed_groups``: positions that share one stirrer speed (``Scheduler.speed_groups``)."""

    positions: int
    ahead: int = AHEAD
    speed_groups: list[list[int]] = field(default_factory=list)
    scheduler: Scheduler = field(init=False)
    baton: threading.Semaphore = field(init=False, default_factory=lambda: threading.Semaphore(0))

    def __post_init__(self) -> None:
        self.scheduler = Scheduler(self.positions, self.ahead, self.speed_groups)
        self.gates: dict[int, Gate] = {}
        self.on_place: Callable[[int, int, float], None] | None = None

    def run(self, jobs: list[Job], on_start: Callable[[int, int, float], None] | None = None,
            on_end: Callable[[JobResult], None] | None = None) -> list[JobResult]:
        """Run every job; a job's exception is its result's ``error``, never the campaign's.
        ``on_start(run, position, t)`` is called when a run takes its stir position. Runs are
        let in in list order: resumed runs that hold a position or the flow cell come first."""
        results: dict[int, JobResult] = {}
        self.on_place = on_start
        for i, job in enumerate(jobs):
            if job.reentry is not None and job.reentry.position is not None:
                self.scheduler.reserve(i, job.reentry.position)
        for i in range(len(jobs)):
            self.scheduler.admit(i)
        while (event := self.scheduler.pop()) is not None:
            run, t = event
            gate = self.gates.get(run)
            if gate is None:
                results[run] = JobResult(run, t)
                gate = self.gates[run] = Gate(self, run, t, results[run], jobs[run].reentry)
                thread = threading.Thread(target=self._thread, name=f"campaign-run-{run}",
                                          args=(jobs[run], gate, results[run], on_end),
                                          daemon=True)
                thread.start()
            else:
                gate.go.release()
            self.baton.acquire()
        return [results[i] for i in range(len(jobs))]

    def _thread(self, job: Job, gate: Gate, result: JobResult,
                on_end: Callable[[JobResult], None] | None) -> None:
        try:
            try:
                result.value = job.execute(gate)
                gate.wait_until(gate.offset + job.end_time(result.value))
            except Exception as e:
                result.error = f"{type(e).__name__}: {e}"
            result.end = self.scheduler.now
            self.scheduler.release_all(gate.run)
            if on_end is not None:
                on_end(result)
        finally:
            self.baton.release()

    def steps(self) -> list[StepTimes]:
        return sorted((s for g in self.gates.values() for s in g.steps),
                      key=lambda s: (s.start, s.run, s.n))
