"""A small fake lab and plan for engine tests, in the spirit of httpx's ``MockTransport``.

``Bench`` is the lab's physical state: plain data that outlives a crashed run the way liquids
outlive a computer, so a test crashes a run in process (``mscrobot.storage.crashpoints.armed``)
and resumes it against the same bench. The devices implement the Protocols of
``mscrobot.lab.protocols`` over it with a virtual clock, and pass a crash point before and after
every action, as the simulated world's event log does: a crash can fall between a device acting
and the journal hearing of it. No spectra analysis, no Opentrons, no files but the journal: a run
takes milliseconds, so a test can resume from every journal write.

``FakePlan`` has the shape of the exchange plan (a blank and its reference, two doses, stir and
sample rounds with a verdict each, until the sample shows the transfer) and, like it, is a pure
function of the outcomes it is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mscrobot.app.runs import resolve
from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.engine.runner import Engine, RunEnd
from mscrobot.lab.protocols import Lab, LabRefusalError, OpStatus
from mscrobot.procedure.plan import PlannedStep, PlanResult
from mscrobot.procedure.steps import (
    Decide,
    Discard,
    Dispense,
    Measure,
    Outcome,
    Reference,
    Sample,
    Settle,
    Step,
    Stir,
    StopStir,
    Wait,
)
from mscrobot.spectra.types import Spectrum
from mscrobot.storage.crashpoints import crashpoint

WAVELENGTHS = np.linspace(300.0, 600.0, 16)
#: Stirred seconds for the whole transfer: the fake 'chemistry'.
TRANSFER_S = 700.0
RUN_ID = "fake"


@dataclass
class Bench:
    """What is physically there. Each device action changes it between two crash points."""

    t: float = 0.0
    rpm: float = 0.0
    stirred_s: float = 0.0
    vessels: dict[str, float] = field(default_factory=lambda: {
        "salt_stock": 5000.0, "cluster_stock": 5000.0, "reaction": 0.0, "flow_cell": 0.0,
        "waste": 0.0})
    #: the transfer fraction of the sample in the flow cell (None: the cell holds a blank)
    cell: float | None = None
    #: every dose, draw and return that acted, in order: one given twice shows here
    ops: list[str] = field(default_factory=list)
    flushes: int = 0

    def act(self, change: Callable[[], None]) -> None:
        crashpoint()
        change()
        crashpoint()

    def snapshot(self) -> dict[str, Any]:
        return {"t": self.t, "rpm": self.rpm, "stirred_s": self.stirred_s,
                "vessels": dict(self.vessels), "cell": self.cell, "ops": list(self.ops)}


class FakeClock:
    def __init__(self, bench: Bench) -> None:
        self.bench = bench

    def now(self) -> float:
        return self.bench.t

    def sleep_until(self, t: float) -> None:
        b = self.bench
        if t <= b.t:
            return

        def advance() -> None:
            if b.rpm > 0:
                b.stirred_s += t - b.t
            b.t = t

        b.act(advance)


class FakeLiquidHandler:
    """Moves liquid on the bench; ``knows`` says whether it can tell an operation happened."""

    def __init__(self, bench: Bench, knows: bool) -> None:
        self.bench, self.knows = bench, knows

    def _move(self, op_id: str | None, source: str, dest: str, volume_ul: float, seconds: float,
              cell: float | None = None, into_cell: bool = False) -> None:
        b = self.bench
        if b.vessels[source] < volume_ul:
            raise LabRefusalError(f"{source} holds {b.vessels[source]:g} µL")

        def change() -> None:
            b.vessels[source] -= volume_ul
            b.vessels[dest] += volume_ul
            if into_cell:
                b.cell = cell
            if op_id is None:
                b.flushes += 1
            else:
                b.ops.append(op_id)
            b.t += seconds

        b.act(change)

    def dispense(self, op_id: str, source: str, dest: str, volume_ul: float,
                 layer: str) -> None:
        self._move(op_id, source, dest, volume_ul, 20.0)

    def sample(self, op_id: str, vessel: str, phase: str, volume_ul: float,
               depth_mm: float = 0.0) -> float:
        fraction = None if vessel != "reaction" else min(1.0, self.bench.stirred_s / TRANSFER_S)
        self._move(op_id, vessel, "flow_cell", volume_ul, 15.0, fraction, into_cell=True)
        return 5.0

    def return_sample(self, op_id: str, vessel: str, phase: str, volume_ul: float) -> None:
        self._move(op_id, "flow_cell", vessel, volume_ul, 15.0)

    def flush_cell(self, op_id: str) -> None:
        """Idempotent: flushing again is harmless, so it is counted, not listed with the ops,
        and takes no lab time (as in the simulated lab), so a repeat leaves the clock alone."""
        self._move(None, "flow_cell", "waste", self.bench.vessels["flow_cell"], 0.0, None,
                   into_cell=True)

    def status_of(self, op_id: str) -> OpStatus:
        if not self.knows:
            return "unknown"
        return "done" if op_id in self.bench.ops else "not_done"

    def volumes(self) -> dict[str, float]:
        return dict(self.bench.vessels)


class FakeStirrer:
    def __init__(self, bench: Bench) -> None:
        self.bench = bench

    def set_speed(self, rpm: float) -> float:
        self.bench.act(lambda: setattr(self.bench, "rpm", rpm))
        return rpm

    def speed(self) -> float:
        return self.bench.rpm


class FakeSpectrometer:
    """Reads change nothing: the same cell reads the same spectrum again after a crash."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench

    @staticmethod
    def _read(level: float, kind: str, integration_ms: float) -> Spectrum:
        counts = level * (1.0 + 0.1 * np.cos(WAVELENGTHS / 40.0))
        return Spectrum(WAVELENGTHS.copy(), counts, integration_ms, meta={"kind": kind})

    def reference(self, op_id: str, blank: str, integration_ms: float | None = None
                  ) -> tuple[Spectrum, Spectrum]:
        return self._read(100.0, "dark", 40.0), self._read(30000.0, "reference", 40.0)

    def measure(self, op_id: str, integration_ms: float) -> Spectrum:
        fraction = self.bench.cell or 0.0
        return self._read(100.0 + 29900.0 * (1.0 - 0.8 * fraction), "sample", integration_ms)


def fake_lab(bench: Bench, knows: bool = True) -> Lab:
    """The devices of one 'process' over ``bench``."""
    return Lab("fake", FakeClock(bench), FakeLiquidHandler(bench, knows), FakeStirrer(bench),
               FakeSpectrometer(bench))


class FakePlan:
    """Blank, reference, two doses, then rounds of stir, settle, sample, measure and a verdict
    until the transfer shows (or ``rounds`` run out)."""

    def __init__(self, rounds: int = 8) -> None:
        self.rounds = rounds

    def steps(self) -> Generator[PlannedStep, Outcome[Any], PlanResult]:
        result = PlanResult("finished")

        def do(step: Step[Any]) -> Generator[PlannedStep, Outcome[Any], Outcome[Any]]:
            return (yield PlannedStep(step))

        yield from do(Sample("polar", 20.0, vessel="salt_stock"))
        ref = (yield from do(Reference("polar_salt", "salt_stock"))).result
        dark, reference = ref.dark, ref.reference
        yield from do(Discard())
        yield from do(Dispense("salt_stock", "reaction", 1500.0, "ZnCl2 in DMF", "polar"))
        yield from do(Dispense("cluster_stock", "reaction", 1500.0, "(CdS)34 in hexane",
                               "nonpolar"))
        for _ in range(self.rounds):
            yield from do(Stir(1000.0))
            yield from do(Wait(240.0, "exchange"))
            yield from do(StopStir())
            yield from do(Settle(30.0))
            yield from do(Sample("polar", 20.0))
            sample = (yield from do(Measure("polar", "polar_salt", ref.integration_ms))).result
            yield from do(Discard())
            absorbed = 1.0 - float(np.mean(sample.spectrum.counts - dark.counts)
                                   / np.mean(reference.counts - dark.counts))
            done = absorbed > 0.7
            yield from do(Decide("forward", "complete" if done else "progressing",
                                 "stop" if done else "continue", (f"absorbed {absorbed:.4f}",),
                                 (("absorbed", absorbed),)))
            if done:
                return result
        result.end = "round_limit"
        return result


def run_once(bench: Bench, folder: Path, knows: bool = True) -> RunEnd:
    """Execute (or resume) the fake run whose journal is in ``folder``, as one process would."""
    journal = Journal(folder / JOURNAL_NAME)
    try:
        return Engine(journal, fake_lab(bench, knows), FakePlan(), RUN_ID).run()
    finally:
        journal.close()


def resume_to_end(bench: Bench, folder: Path, knows: bool = True) -> tuple[RunEnd, list[str]]:
    """Resume until the run ends; a question about an interrupted operation is answered as an
    operator looking at the bench would. Returns the end and the answers given."""
    answers: list[str] = []
    end = run_once(bench, folder, knows)
    while end.pending is not None:
        n = end.pending["step"]
        answer = "done" if f"{RUN_ID}/{n}" in bench.ops else "not-done"
        resolve(folder, n, answer)
        answers.append(answer)
        end = run_once(bench, folder, knows)
    return end, answers


def end_state(folder: Path, bench: Bench) -> dict[str, Any]:
    """What two runs must agree on: the journaled steps and verdicts, the spectra, the bench."""
    journal = Journal(folder / JOURNAL_NAME)
    try:
        steps = [(s.kind, s.params, s.status) for s in journal.steps()]
        verdicts = [(v["stage"], v["state"], v["action"], v["reasons"])
                    for v in journal.verdicts()]
        digest = hashlib.sha256(b"".join(s.counts.tobytes() for s in journal.spectra()))
        state = journal.state()
    finally:
        journal.close()
    return {"state": state[0] if state else None, "steps": steps, "verdicts": verdicts,
            "spectra": digest.hexdigest(), "bench": bench.snapshot()}
