"""The campaign's discrete-event core: one virtual clock, who holds which resource, who waits.

Pure bookkeeping (no threads, files or devices): runs ask for resources and for wake-ups; the
scheduler answers with the next run to resume and the campaign time at which it resumes. Time
only moves forward, to the earliest pending wake-up; grants happen at the current time, all or
nothing (a run never holds half of what a step needs, so no run waits while blocking another's
step). Among requests that could start, the order is: runs finishing a flow-cell sequence first
(the cell stays blocked until they do), then runs in the middle of a sequence of shared steps
(the second phase of an observation: the decision waits for both, so finishing one vial's
observation before starting another's delays decisions least), then samples of a reaction vial
(their timing is what the decisions see), then the rest, then the opening steps of runs that
have no stir position yet (their reference blanks: they use the arm only when no vial on a
position wants it); first come, first served within each class. Runs start in campaign order,
while fewer than the free positions + ``ahead`` started runs are still without a position, and
take a position at their first step on the vial, in the order they started; a run let in ahead
so does its references while every position is busy, and waits at the head of the queue for the
next position that frees. A resumed run's position is reserved for it (``reserve``: its vial
stands there), so no other run is placed on it. Every hold is recorded as an ``Interval``: the
schedule a campaign record keeps and tests check.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from mscrobot.campaign.resources import POSITION, SPEED

#: Request priority classes (lower is served first). ``PROLOGUE``: steps of a run that has no
#: stir position yet (its reference blanks), which only fill the arm's otherwise idle time.
FINISH_CELL, CONTINUE, SAMPLE, OTHER, PROLOGUE = 0, 1, 2, 3, 4
#: Runs let in ahead of a free stir position by default (see ``Scheduler.ahead``).
AHEAD = 1


@dataclass(frozen=True)
class Interval:
    """``resource`` held by run ``run`` over [start, end] campaign seconds, for ``what``."""

    resource: str
    run: int
    start: float
    end: float
    what: str


@dataclass
class _Request:
    run: int
    resources: frozenset[str]  # empty with ``position``: any free stir position
    t: float
    seq: int
    priority: int
    what: str
    kind: str = "resources"  # resources | entry (start the run) | position | speed
    rpm: float = 0.0  # a speed request's
    position: int | None = None  # a position request's, when it must be that one


@dataclass
class Wait:
    """A request that could not be granted at once: how long it waited."""

    run: int
    what: str
    requested: float
    granted: float


class SchedulerError(Exception):
    """The schedule cannot go on (a run waits for something nobody will release)."""


@dataclass
class Scheduler:
    """``positions`` stir positions; ``ahead``: how many runs may start before a position is
    free for them (they run the steps that do not touch their vial, then wait for one);
    ``speed_groups``: positions on one device that turns them at one speed. A group's speed is
    shared state: held by every run stirring on it, all at one rpm; a run that wants another
    rpm waits until none stirs, and once it waits no run starts stirring on that device ahead
    of it (so a busy rpm cannot starve another)."""

    positions: int
    ahead: int = AHEAD
    speed_groups: list[list[int]] = field(default_factory=list)
    now: float = 0.0
    intervals: list[Interval] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._holder: dict[str, tuple[int, float, str]] = {}
        self._waiting: list[_Request] = []
        self._events: list[tuple[float, int, int]] = []
        self._seq = 0
        self._position_of: dict[int, int] = {}
        #: runs started (in entry order) that hold no stir position yet and have not ended
        self._unplaced: list[int] = []
        self._group_of = {k: g for g, group in enumerate(self.speed_groups) for k in group}
        #: speed group → its rpm and the runs stirring at it (since when)
        self._speed: dict[int, tuple[float, dict[int, float]]] = {}
        #: position → the resumed run whose vial stands on it (until that run takes it back)
        self._reserved: dict[int, int] = {}

    # --- what runs ask for ---------------------------------------------------------------------

    def wake(self, run: int, t: float) -> None:
        """Resume ``run`` when campaign time reaches ``t`` (at once if it has)."""
        self._seq += 1
        heapq.heappush(self._events, (max(t, self.now), self._seq, run))

    def admit(self, run: int) -> None:
        """``run`` wants to start; it resumes (starts) when fewer than free positions + ``ahead``
        started runs are still without a position, first come first served."""
        self._queue(_Request(run, frozenset(), self.now, 0, OTHER, "run", "entry"))

    def place(self, run: int, position: int | None = None) -> None:
        """``run`` needs its stir position (the first step on its vial); it resumes holding one.
        Positions go to waiting runs in the order they started. ``position``: that one only (a
        resumed run's vial already stands on it); others pass it by while it is taken."""
        if position is not None and not 0 <= position < self.positions:
            raise SchedulerError(f"run {run} asks for stir position {position}; there are "
                                 f"{self.positions}")
        self._queue(_Request(run, frozenset(), self.now, 0, -1, "position", "position",
                             position=position))

    def reserve(self, run: int, position: int) -> None:
        """Keep ``position`` for ``run`` (a resumed run: its vial stands there): no other run
        is placed on it until ``run`` takes it (``place(run, position)``) or ends."""
        if not 0 <= position < self.positions or position in self._reserved:
            raise SchedulerError(f"run {run} cannot reserve stir position {position}")
        self._reserved[position] = run

    def request(self, run: int, resources: frozenset[str], what: str, priority: int) -> None:
        """``run`` wants all of ``resources`` at once; it resumes when they are its."""
        if not resources:
            self.wake(run, self.now)
            return
        self._queue(_Request(run, resources, self.now, 0, priority, what))

    def speed_group(self, run: int) -> int | None:
        """The shared-speed device under ``run``'s position (None: its stirrer is its own)."""
        position = self._position_of.get(run)
        return None if position is None else self._group_of.get(position)

    def stir(self, run: int, rpm: float) -> None:
        """``run`` starts stirring at ``rpm`` on its shared-speed device; it resumes when every
        vial stirring there turns at ``rpm`` (or none does)."""
        self._queue(_Request(run, frozenset(), self.now, 0, -1, f"stir {rpm:g} rpm", "speed",
                             rpm))

    def stop_stir(self, run: int) -> None:
        group = self.speed_group(run)
        held = self._speed.get(group) if group is not None else None
        if held is None or run not in held[1]:
            raise SchedulerError(f"run {run} stops a stirrer it does not hold")
        rpm, runs = held
        self.intervals.append(Interval(f"{SPEED}:{group}", run, runs.pop(run), self.now,
                                       f"{rpm:g} rpm"))
        if not runs:
            del self._speed[group]
        self._grant()

    def stirring(self, run: int) -> bool:
        return self.stirring_at(run) is not None

    def stirring_at(self, run: int) -> float | None:
        """The rpm ``run`` holds its shared-speed device at (None: it is not stirring)."""
        group = self.speed_group(run)
        rpm, runs = self._speed.get(group, (0.0, {})) if group is not None else (0.0, {})
        return rpm if run in runs else None

    def release(self, run: int, resources: frozenset[str]) -> None:
        for name in sorted(resources):
            holder = self._holder.get(name)
            if holder is None or holder[0] != run:
                raise SchedulerError(f"run {run} releases {name}, which it does not hold")
            del self._holder[name]
            self.intervals.append(Interval(name, run, holder[1], self.now, holder[2]))
        self._grant()

    def release_all(self, run: int) -> None:
        """Everything ``run`` holds (its stir position too): the run has ended."""
        mine = frozenset(k for k, (r, _, _) in self._holder.items() if r == run)
        self._waiting = [w for w in self._waiting if w.run != run]
        if self.stirring(run):
            self.stop_stir(run)
        if run in self._unplaced:
            self._unplaced.remove(run)
        self._reserved = {k: r for k, r in self._reserved.items() if r != run}
        self.release(run, mine)

    # --- what the conductor asks -----------------------------------------------------------------

    def pop(self) -> tuple[int, float] | None:
        """The next run to resume and the time it resumes at (None: nothing left to do)."""
        if not self._events:
            if self._waiting:
                raise SchedulerError("deadlock: " + ", ".join(
                    f"run {w.run} waits for {w.what}" for w in self._waiting))
            return None
        t, _, run = heapq.heappop(self._events)
        self.now = t
        return run, t

    def position_of(self, run: int) -> int | None:
        return self._position_of.get(run)

    def holds(self, run: int) -> frozenset[str]:
        return frozenset(k for k, (r, _, _) in self._holder.items() if r == run)

    def busy_time(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for iv in self.intervals:
            out[iv.resource] = out.get(iv.resource, 0.0) + iv.end - iv.start
        return out

    # --- granting ------------------------------------------------------------------------------

    def _queue(self, request: _Request) -> None:
        self._seq += 1
        request.seq = self._seq
        self._waiting.append(request)
        self._grant()

    def _free_positions(self) -> list[str]:
        return [name for k in range(self.positions)
                if (name := f"{POSITION}:{k}") not in self._holder]

    def _key(self, req: _Request) -> tuple[float, ...]:
        if req.kind == "position":  # the run that started first places first
            return (req.priority, self._unplaced.index(req.run), 0.0)
        return (req.priority, req.t, req.seq)  # speed requests too: first come, first served

    def _grant(self) -> None:
        queued: set[int] = set()  # shared-speed devices with a run waiting for their speed
        for req in sorted(self._waiting, key=self._key):
            if req.kind == "speed":
                group = self.speed_group(req.run)
                if group is None:
                    raise SchedulerError(f"run {req.run} asks for a shared speed it has not")
                rpm, runs = self._speed.get(group, (req.rpm, {}))
                if group in queued or (runs and rpm != req.rpm):
                    queued.add(group)
                    continue
                self._speed[group] = (req.rpm, {**runs, req.run: self.now})
                wanted: frozenset[str] = frozenset()
            elif req.kind == "entry":
                if len(self._unplaced) >= len(self._free_positions()) + self.ahead:
                    continue
                wanted = frozenset()
                self._unplaced.append(req.run)
            elif req.kind == "position":
                free = self._free_positions()
                free = [n for n in free if req.position in (None, int(n.split(":")[1]))
                        and self._reserved.get(int(n.split(":")[1]), req.run) == req.run]
                if not free:
                    continue
                wanted = frozenset(free[:1])
                self._position_of[req.run] = int(free[0].split(":")[1])
                self._reserved.pop(self._position_of[req.run], None)
                self._unplaced.remove(req.run)
            else:
                wanted = req.resources
                if any(n in self._holder for n in wanted):
                    continue
            for name in wanted:
                self._holder[name] = (req.run, self.now, req.what)
            self._waiting.remove(req)
            if self.now > req.t:
                self.waits.append(Wait(req.run, req.what, req.t, self.now))
            self.wake(req.run, self.now)
