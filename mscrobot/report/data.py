"""One consistent read of a run's journal, shared by the summary, the report and the export.

A read-only probe with a short timeout comes first, because ``Journal()`` would create a missing
file, run its schema script and wait up to 5 s on a locked database, none of which a listing of
runs should do. The reads then share one SQLite snapshot, so a report of a run that is still
executing never pairs steps from one moment with states from another.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from mscrobot.engine.journal import JOURNAL_NAME, Journal, StepRecord, pending_question
from mscrobot.spectra.types import FloatArray, Spectrum

#: How long a listing waits for a journal another process holds locked before calling it
#: unreadable (the engine's own write transactions last milliseconds).
PROBE_TIMEOUT_S = 0.5
REPORT_NAME = "report.html"


class UnreadableRunError(Exception):
    """A run folder whose journal is missing, corrupt or locked, said in one line."""


@dataclass(frozen=True, eq=False)
class Measurement:
    """One measure step's sample read with the dark and reference it is corrected against."""

    step: int
    phase: str
    time_s: float
    sample: Spectrum
    dark: Spectrum
    reference: Spectrum

    @property
    def wavelengths_nm(self) -> FloatArray:
        return self.sample.wavelengths_nm

    @cached_property
    def absorbance(self) -> FloatArray:
        """Base-10 absorbance (AU) per pixel, exactly as the plan's analysis computes it. (The
        read flags are left out: over the whole axis they would flag every solvent's opaque UV
        edge; the analysis judges them in its own window.)"""
        from mscrobot.spectra.correction import to_absorbance

        return to_absorbance(self.sample, self.dark, self.reference)[0]


@dataclass
class RunData:
    """Everything the journal holds about one run, read at one moment."""

    run_dir: Path
    meta: dict[str, Any]
    states: list[dict[str, Any]]
    steps: list[StepRecord]
    verdicts: list[dict[str, Any]]
    answers: list[dict[str, Any]]
    measurements: list[Measurement] = field(default_factory=list)
    sample_spectra: int = 0

    @property
    def state(self) -> str:
        return self.states[-1]["state"] if self.states else "unknown"

    @property
    def reason(self) -> str:
        return self.states[-1]["reason"] if self.states else ""

    @property
    def lab_time_s(self) -> float:
        """The latest lab clock reading the journal knows (a fresh run: 0)."""
        times = [s["lab_t"] for s in self.states]
        times += [t for r in self.steps for t in (r.started_t, r.ended_t)]
        known = [float(t) for t in times if t is not None]
        return max(known, default=0.0)

    def last_verdict(self, stage: str) -> dict[str, Any] | None:
        found = [v for v in self.verdicts if v["stage"] == stage]
        return found[-1] if found else None

    def volume_history(self) -> list[tuple[float, dict[str, float]]]:
        """(lab time, µL per vessel) after every done step that reports the liquid handler's
        volumes, in step order."""
        out = []
        for r in self.steps:
            vessels = (r.outcome or {}).get("vessels")
            if r.status == "done" and isinstance(vessels, dict) and r.ended_t is not None:
                out.append((float(r.ended_t), {str(k): float(v) for k, v in vessels.items()}))
        return out

    def pending(self) -> dict[str, Any] | None:
        """The question the operator must answer, when the run is waiting for one, with the
        answer already recorded (if any)."""
        question = pending_question(self.state, self.reason, self.steps)
        if question is None:
            return None
        answers = {a["step"]: a["answer"] for a in self.answers}
        return question | {"answer": answers.get(question["step"])}

    @property
    def report_path(self) -> Path | None:
        path = self.run_dir / REPORT_NAME
        return path if path.is_file() else None


def _probe(path: Path) -> None:
    """Fail fast, without writing anything, if the journal cannot be read right now."""
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                          timeout=PROBE_TIMEOUT_S)
    try:
        con.execute("select value from meta where key = 'id'").fetchone()
    finally:
        con.close()


def read_run(run_dir: Path, *, spectra: bool = True) -> RunData:
    """Read a run folder's journal; ``spectra=False`` skips the spectra (a listing needs none).

    Raises ``UnreadableRunError`` for a missing, corrupt or locked journal."""
    path = run_dir / JOURNAL_NAME
    if not path.is_file():
        raise UnreadableRunError(f"no {JOURNAL_NAME} in {run_dir}")
    try:
        if os.access(run_dir, os.W_OK):
            _probe(path)
            journal = Journal(path)
        else:  # archived, or shared read-only: readable all the same
            journal = Journal.frozen(path)
        try:
            journal.db.execute("begin")
            data = RunData(run_dir, journal.meta(), journal.states(), journal.steps(),
                           journal.verdicts(), journal.answers())
            if spectra:
                all_spectra = journal.spectra()
                data.sample_spectra = sum(s.meta.get("kind") == "sample" for s in all_spectra)
                data.measurements = _measurements(all_spectra, data.steps)
            journal.db.execute("rollback")
        finally:
            journal.close()
    except sqlite3.Error as e:
        raise UnreadableRunError(f"journal {path} cannot be read: {e}") from None
    except (ValueError, KeyError) as e:  # a value that is not the JSON the journal writes
        raise UnreadableRunError(f"journal {path} holds a malformed record: {e!r}") from None
    return data


def _measurements(spectra: list[Spectrum], steps: list[StepRecord]) -> list[Measurement]:
    """Pair each sample read with the dark and reference of its blank, in journal order.

    A reference step journals its dark and reference, a measure step its sample; each measure
    is read against the latest reference of the blank it names, as the plan did."""
    by_step: dict[int, dict[str, Spectrum]] = {}
    for sp in spectra:
        by_step.setdefault(int(sp.meta["step"]), {}).setdefault(str(sp.meta.get("kind")), sp)
    references: dict[str, tuple[Spectrum, Spectrum]] = {}
    out = []
    for rec in sorted(steps, key=lambda r: r.n):
        reads = by_step.get(rec.n, {})
        if rec.kind == "reference" and {"dark", "reference"} <= reads.keys():
            references[str(rec.params["blank"])] = (reads["dark"], reads["reference"])
        elif rec.kind == "measure" and "sample" in reads:
            pair = references.get(str(rec.params.get("blank")))
            if pair is None:
                continue
            sample = reads["sample"]
            t = sample.meta.get("time_s", rec.ended_t)
            out.append(Measurement(rec.n, str(sample.meta.get("phase")),
                                   float("nan") if t is None else float(t), sample, *pair))
    return out
