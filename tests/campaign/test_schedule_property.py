"""Property: over random campaigns, no resource is ever held by two runs at once.

Runs are synthetic plans (random mixes of dispenses, stirring, samples with or without a
returned sample, reads) on a fake lab whose operations take random times, executed by the real
engine under the real conductor, so what is checked is the recorded schedule of real runs.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mscrobot.campaign.conductor import Conductor
from mscrobot.campaign.jobs import memory_job
from mscrobot.campaign.resources import POSITION
from mscrobot.lab.protocols import Lab
from mscrobot.procedure.plan import PlanGenerator, PlannedStep, PlanResult
from mscrobot.procedure.steps import (
    Discard,
    Dispense,
    Measure,
    Reference,
    Sample,
    Settle,
    Step,
    Stir,
    StopStir,
    Transfer,
    Wait,
)
from mscrobot.spectra.types import Spectrum
from tests.clocks import SteppedClock

RECIPE_PATH = Path(__file__).resolve().parents[2] / "recipes" / "cds34-zncl2.yaml"



class FakeDevices:
    """Liquid handler, stirrer and spectrometer whose every operation takes its own time."""

    def __init__(self, clock: SteppedClock, times: dict[str, float]) -> None:
        self.clock, self.times = clock, times
        #: (run-clock time, rpm) at every speed change: what the vial felt
        self.speeds: list[tuple[float, float]] = []
        wl = np.linspace(300.0, 400.0, 4)
        self.spectrum = Spectrum(wl, np.ones(4), 10.0)

    def _take(self, what: str) -> None:
        self.clock.t += self.times[what]

    def dispense(self, op_id: str, source: str, dest: str, volume_ul: float, layer: str) -> None:
        self._take("dispense")

    def sample(self, op_id: str, vessel: str, phase: str, volume_ul: float,
               depth_mm: float = 0.0) -> float:
        self._take("sample")
        return 5.0

    def return_sample(self, op_id: str, vessel: str, phase: str, volume_ul: float) -> None:
        self._take("transfer")

    def flush_cell(self, op_id: str) -> None:
        self._take("discard")

    def status_of(self, op_id: str) -> str:
        return "not_done"

    def volumes(self) -> dict[str, float]:
        return {}

    def set_speed(self, rpm: float) -> float:
        self.speeds.append((self.clock.t, rpm))
        return rpm

    def speed(self) -> float:
        return 0.0

    def reference(self, op_id: str, blank: str, integration_ms: float | None = None
                  ) -> tuple[Spectrum, Spectrum]:
        self._take("measure")
        return self.spectrum, self.spectrum

    def measure(self, op_id: str, integration_ms: float) -> Spectrum:
        self._take("measure")
        return self.spectrum


BLOCKS = ("dispense", "stir", "stir_fast", "settle", "sample", "sample_return", "reference")


def _blocks(blocks: list[tuple[str, float]]) -> Iterator[Step[Any]]:
    for block, seconds in blocks:
        if block == "dispense":
            yield Dispense("salt_stock", "reaction", 10.0, "salt", "polar")
        elif block in ("stir", "stir_fast"):
            yield Stir(900.0 if block == "stir_fast" else 500.0)
            yield Wait(seconds)
            yield StopStir()
        elif block == "settle":
            yield Settle(seconds)
        elif block == "reference":  # a blank from a stock, read as the reference
            yield Sample("nonpolar", 20.0, "hexane_stock")
            yield Reference("nonpolar", "hexane_stock")
            yield Discard()
        else:
            yield Sample("nonpolar", 20.0)
            yield Measure("nonpolar", "nonpolar", 10.0)
            if block == "sample_return":
                yield Transfer("nonpolar", 20.0)
            yield Discard()


def synthetic_plan(blocks: list[tuple[str, float]]) -> PlanGenerator:
    for step in _blocks(blocks):
        yield PlannedStep(step)
    return PlanResult("finished")


class SyntheticPlan:
    def __init__(self, blocks: list[tuple[str, float]]) -> None:
        self.blocks = blocks

    def steps(self) -> PlanGenerator:
        return synthetic_plan(self.blocks)


durations = st.sampled_from([0.0, 1.0, 5.0, 15.0, 20.0, 37.5])
run_spec = st.tuples(
    st.lists(st.tuples(st.sampled_from(BLOCKS), st.sampled_from([0.0, 10.0, 60.0, 120.0])),
             min_size=1, max_size=8),
    st.fixed_dictionaries({k: durations for k in ("dispense", "sample", "transfer", "discard",
                                                  "measure")}),
)


def _job(spec: tuple[list[tuple[str, float]], dict[str, float]], recipe: Any, lab: Any,
         devices: dict[int, FakeDevices] | None = None, k: int = 0) -> Any:
    blocks, times = spec

    def make_lab() -> Lab:
        clock = SteppedClock()
        dev = FakeDevices(clock, times)
        if devices is not None:
            devices[k] = dev
        return Lab("fake", clock, dev, dev, dev)  # type: ignore[arg-type]

    return memory_job(recipe, 0, lab, make_lab, lambda: SyntheticPlan(blocks))  # type: ignore[arg-type, return-value]


@settings(max_examples=min(200, settings.default.max_examples), deadline=None)  # 200 in CI
@given(specs=st.lists(run_spec, min_size=1, max_size=6), positions=st.integers(1, 4),
       ahead=st.integers(0, 2))
def test_no_resource_is_ever_double_booked(specs: list[Any], positions: int, ahead: int,
                                           reference: tuple[Any, Any]) -> None:
    recipe, lab = reference
    conductor = Conductor(positions, ahead)
    results = conductor.run([_job(s, recipe, lab) for s in specs])
    assert [r.error for r in results] == [None] * len(specs)
    assert all(r.value.state == "completed" for r in results)
    held: dict[str, list[Any]] = defaultdict(list)
    for iv in conductor.scheduler.intervals:
        assert iv.end >= iv.start
        held[iv.resource].append(iv)
    for name, ivs in held.items():
        if name.startswith("speed"):
            continue
        ivs.sort(key=lambda iv: (iv.start, iv.end))
        for a, b in itertools.pairwise(ivs):
            assert a.end <= b.start, f"{name} held by runs {a.run} and {b.run} at once"
    assert all(int(n.split(":")[1]) < positions for n in held if n.startswith(POSITION))
    runs_on_positions = sorted(iv.run for n, ivs in held.items() if n.startswith(POSITION)
                               for iv in ivs)
    # a run takes one position, and only if it touches its vial (reference blanks do not)
    assert runs_on_positions == [k for k, (blocks, _) in enumerate(specs)
                                 if any(b != "reference" for b, _ in blocks)]
    # never more than ``ahead`` started runs beyond the free positions are without one
    for r in results:
        t = r.offset
        busy = sum(iv.start <= t < iv.end for n, ivs in held.items()
                   if n.startswith(POSITION) for iv in ivs)
        unplaced = sum(o.offset <= t and (o.placed is None or t < o.placed) and t < o.end
                       for o in results)
        assert unplaced <= positions - busy + ahead, (r.index, t)
    # what each step physically needs, said here independently of the scheduler's table: the
    # arm for liquid handling, the spectrometer for a read, and the flow cell from the sample
    # drawn into it until it is flushed
    steps = conductor.steps()

    def covered(run: int, name: str, start: float, end: float) -> bool:
        return any(iv.run == run and iv.start <= start and end <= iv.end for iv in held[name])

    positions_of = {iv.run: iv for n, ivs in held.items() if n.startswith(POSITION)
                    for iv in ivs}
    for s in steps:
        if s.kind in ("dispense", "sample", "transfer", "discard"):
            assert covered(s.run, "robot", s.start, s.end), s
        if s.kind in ("measure", "reference", "sample", "transfer", "discard"):
            assert covered(s.run, "spectrometer", s.start, s.end), s
        run = results[s.run]
        assert run.offset <= s.requested <= s.start <= s.end <= run.end
        position = positions_of.get(s.run)
        if position is not None and s.start >= position.start:
            assert s.end <= position.end
        else:  # before its position: only the blanks that open the run
            assert s.kind in ("sample", "reference", "discard"), s
    for k, (blocks, _) in enumerate(specs):
        before = sum(1 for s in steps if s.run == k and s.kind == "sample"
                     and (k not in positions_of or s.start < positions_of[k].start))
        leading = next((i for i, (b, _) in enumerate(blocks) if b != "reference"), len(blocks))
        assert before <= leading, (k, before, leading)
    for run in range(len(specs)):
        mine = [s for s in steps if s.run == run]
        for i, s in enumerate(mine):
            if s.kind == "sample":
                flush = next(f for f in mine[i:] if f.kind == "discard")
                assert covered(run, "spectrometer", s.start, flush.end), (s, flush)


SHARING = {"own": [], "one device": [[0, 1, 2, 3]], "two devices": [[0, 2], [1, 3]]}


@settings(max_examples=100, deadline=None)
@given(specs=st.lists(run_spec, min_size=1, max_size=5), sharing=st.sampled_from(list(SHARING)))
def test_a_shared_speed_is_never_contradicted(specs: list[Any], sharing: str,
                                              reference: tuple[Any, Any]) -> None:
    """From the stirrers' own logs: two vials on one shared-speed device never turn at two
    different speeds at once (a vial at rest does not count: each position switches alone)."""
    recipe, lab = reference
    groups = SHARING[sharing]
    conductor = Conductor(4, speed_groups=groups)
    devices: dict[int, FakeDevices] = {}
    results = conductor.run([_job(s, recipe, lab, devices, k) for k, s in enumerate(specs)])
    assert [r.error for r in results] == [None] * len(specs)
    spans: dict[int, list[tuple[float, float, float]]] = defaultdict(list)  # group → spans
    for k, dev in devices.items():
        res = results[k]
        group = next((g for g, members in enumerate(groups) if res.position in members), None)
        if group is None:
            continue
        changes = [(res.offset + t, rpm) for t, rpm in dev.speeds] + [(res.end, 0.0)]
        for (t0, rpm), (t1, _) in itertools.pairwise(changes):
            if rpm > 0 and t1 > t0:
                spans[group].append((t0, t1, rpm))
    for group_spans in spans.values():
        for (a0, a1, ra), (b0, b1, rb) in itertools.combinations(group_spans, 2):
            if a0 < b1 and b0 < a1:
                assert ra == rb, f"{ra} and {rb} rpm at once on one device"
    # the scheduler's own record says the same: speed holds overlap only at one rpm
    holds = [iv for iv in conductor.scheduler.intervals if iv.resource.startswith("speed")]
    for a, b in itertools.combinations(holds, 2):
        if a.resource == b.resource and a.start < b.end and b.start < a.end:
            assert a.what == b.what, (a, b)
