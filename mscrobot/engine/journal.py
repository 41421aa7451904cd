"""The run journal: one SQLite file per run, the only record a resumed run trusts.

WAL with ``synchronous=FULL`` survives power loss, not only a killed process. A device step's
intent is committed before the device is touched and its outcome after; a pure step (a verdict)
is committed once with its outcome. Spectra and verdicts are stored with the step that made
them. Step outcomes are kept exactly (a step's typed result as the JSON it has always been,
spectra as float64 bytes), so the result rebuilt and replayed into the plan reproduces every
analysis and verdict bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mscrobot.procedure.results import Result, result_from_journal
from mscrobot.procedure.steps import Outcome, Step
from mscrobot.spectra.types import FloatArray, Spectrum
from mscrobot.storage.crashpoints import crashpoint

SCHEMA_VERSION = 1
JOURNAL_NAME = "journal.sqlite"

_SCHEMA = """
create table if not exists meta (key text primary key, value text not null);
create table if not exists states (
    seq integer primary key autoincrement, state text not null, wall text not null,
    lab_t real, reason text not null default '');
create table if not exists steps (
    n integer primary key, kind text not null, params text not null, idempotent integer not null,
    status text not null,  -- intent | done | failed
    started_t real, deadline_t real, intent_wall text,
    ended_t real, outcome text, error text, attempts integer not null default 0, ended_wall text);
create table if not exists axes (
    id integer primary key autoincrement, digest text not null unique, wavelengths blob not null);
create table if not exists spectra (
    id integer primary key autoincrement, step integer not null references steps(n),
    role text not null, phase text, integration_ms real not null, scans integer not null,
    full_scale real not null, axis integer not null references axes(id), counts blob not null,
    meta text);
create index if not exists spectra_step on spectra(step);
create table if not exists verdicts (
    step integer primary key references steps(n), stage text not null, state text not null,
    action text not null, reasons text not null, numbers text not null, lab_t real);
create table if not exists operator (
    step integer primary key, answer text not null, wall text not null, note text);
create table if not exists safe_stops (
    seq integer primary key autoincrement, wall text not null, lab_t real,
    action text not null, ok integer not null, detail text not null);
create table if not exists requests (
    seq integer primary key autoincrement, kind text not null, who text not null,
    wall text not null, step integer, detail text not null default '');
"""


def _wall() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class StepRecord:
    n: int
    kind: str
    params: dict[str, Any]
    idempotent: bool
    status: str
    started_t: float | None
    deadline_t: float | None
    ended_t: float | None
    outcome: dict[str, Any] | None
    error: str | None
    attempts: int


#: What an interrupted step whose outcome is unknown takes: it happened, or it did not.
INTERRUPTED_CHOICES = ("done", "not-done")


def pending_question(state: str, reason: str, steps: Sequence[StepRecord]
                     ) -> dict[str, Any] | None:
    """The question a run awaiting the operator waits on, from its journal (None if it is not
    awaiting one): the last step left at 'intent', an ``ask_operator`` step (its question and
    choices are in its params) or an interrupted step (the question is only the state's
    reason)."""
    if state != "awaiting_operator":
        return None
    open_steps = [r for r in steps if r.status == "intent"]
    if not open_steps:
        return {"step": None, "kind": None, "question": reason, "choices": []}
    rec = open_steps[-1]
    if rec.kind == "ask_operator":
        question, choices = str(rec.params.get("question", "")), rec.params.get("choices")
    else:
        question, choices = reason, INTERRUPTED_CHOICES
    return {"step": rec.n, "kind": rec.kind, "question": question,
            "choices": list(choices or ())}


class Journal:
    """Read and append a run's journal. Every public write is one committed transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=full")
        self.db.execute("pragma foreign_keys=on")
        self.db.executescript(_SCHEMA)
        self._held: tuple[int, Step[Any], Outcome[Any], bool] | None = None
        self._axes: dict[str, int] = {}

    @classmethod
    def frozen(cls, path: Path) -> Journal:
        """A journal on storage nothing can write (a read-only folder), for reading only.

        A WAL database is opened only where its ``-shm`` file exists or can be made; where
        nothing can write, it cannot change either, so SQLite may read it as immutable."""
        journal = cls.__new__(cls)
        journal.path = path
        journal.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1",
                                     uri=True, isolation_level=None, check_same_thread=False)
        journal._held, journal._axes = None, {}
        return journal

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One durable transaction, carrying any outcome held back by ``outcome(later=True)``."""
        crashpoint()
        self.db.execute("begin immediate")
        try:
            if self._held is not None:
                self._write_outcome(*self._held)
                self._held = None
            yield self.db
        except BaseException:
            self.db.execute("rollback")
            raise
        self.db.execute("commit")
        crashpoint()

    def flush(self) -> None:
        """Commit an outcome held back, if any."""
        if self._held is not None:
            with self._tx():
                pass

    # --- run-level ------------------------------------------------------------------------

    def init(self, meta: dict[str, Any]) -> None:
        with self._tx() as db:
            db.executemany("insert or replace into meta values (?, ?)",
                           [(k, json.dumps(v)) for k, v in
                            {**meta, "schema_version": SCHEMA_VERSION}.items()])

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.execute("select key, value from meta")}

    def set_state(self, state: str, lab_t: float | None, reason: str = "") -> None:
        with self._tx() as db:
            db.execute("insert into states (state, wall, lab_t, reason) values (?, ?, ?, ?)",
                       (state, _wall(), lab_t, reason))

    def state(self) -> tuple[str, str] | None:
        row = self.db.execute("select state, reason from states order by seq desc limit 1"
                              ).fetchone()
        return None if row is None else (row[0], row[1])

    def safe_stop(self, action: str, ok: bool, detail: str, lab_t: float | None) -> None:
        """One step of a safe stop (stirrer off, the robot's tip dropped, …) and how it went."""
        with self._tx() as db:
            db.execute("insert into safe_stops (wall, lab_t, action, ok, detail) "
                       "values (?, ?, ?, ?, ?)", (_wall(), lab_t, action, int(ok), detail))

    def safe_stops(self) -> list[dict[str, Any]]:
        """Every safe stop step, in order (none in a journal older than them)."""
        try:
            rows = self.db.execute("select wall, lab_t, action, ok, detail from safe_stops "
                                   "order by seq").fetchall()
        except sqlite3.OperationalError:  # an older journal opened read-only
            return []
        return [{"wall": w, "lab_t": t, "action": a, "ok": bool(ok), "detail": d}
                for w, t, a, ok, d in rows]

    def states(self) -> list[dict[str, Any]]:
        rows = self.db.execute("select state, wall, lab_t, reason from states order by seq")
        return [dict(zip(("state", "wall", "lab_t", "reason"), r, strict=True)) for r in rows]

    # --- steps --------------------------------------------------------------------------------

    def intent(self, n: int, step: Step[Any], started_t: float, deadline_t: float | None) -> None:
        with self._tx() as db:
            db.execute("insert into steps (n, kind, params, idempotent, status, started_t, "
                       "deadline_t, intent_wall) values (?, ?, ?, ?, 'intent', ?, ?, ?)",
                       (n, step.kind, json.dumps(step.params()), int(step.idempotent),
                        started_t, deadline_t, _wall()))

    def attempt(self, n: int) -> None:
        with self._tx() as db:
            db.execute("update steps set attempts = attempts + 1 where n = ?", (n,))

    def outcome(self, n: int, step: Step[Any], outcome: Outcome[Any], *, pure: bool = False,
                later: bool = False) -> None:
        """Record what step ``n`` did (pure steps: the intent and outcome in one go).

        ``later`` holds the record back to be committed in the same transaction as the next
        write (the next step's intent): one fsync instead of two per step. Nothing is touched
        in between, and a crash before that commit looks exactly like a crash before this
        outcome was written, which resume already handles."""
        if later:
            self.flush()
            self._held = (n, step, outcome, pure)
            return
        with self._tx():
            self._write_outcome(n, step, outcome, pure)

    def _write_outcome(self, n: int, step: Step[Any], outcome: Outcome[Any], pure: bool
                       ) -> None:
        db = self.db
        if pure:
            db.execute("insert into steps (n, kind, params, idempotent, status, started_t, "
                       "intent_wall) values (?, ?, ?, ?, 'intent', ?, ?)",
                       (n, step.kind, json.dumps(step.params()), int(step.idempotent),
                        outcome.t, _wall()))
        db.execute("update steps set status = 'done', ended_t = ?, outcome = ?, "
                   "ended_wall = ? where n = ?",
                   (outcome.t, json.dumps(outcome.result.journal_data()), _wall(), n))
        for sp in outcome.result.spectra():
            db.execute(
                "insert into spectra (step, role, phase, integration_ms, scans, full_scale,"
                " axis, counts, meta) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (n, sp.meta.get("kind", ""), sp.meta.get("phase"), sp.integration_ms,
                 sp.scans_averaged, sp.full_scale, self._axis(sp.wavelengths_nm),
                 np.asarray(sp.counts, "<f8").tobytes(), json.dumps(dict(sp.meta))))
        p = step.params()
        if step.kind == "decide":
            db.execute("insert into verdicts values (?, ?, ?, ?, ?, ?, ?)",
                       (n, p["stage"], p["state"], p["action"], json.dumps(p["reasons"]),
                        json.dumps(dict(p["numbers"])), outcome.t))

    def _axis(self, wavelengths: FloatArray) -> int:
        """The id of this wavelength axis, stored once per run (a spectrometer keeps one)."""
        data = np.asarray(wavelengths, "<f8").tobytes()
        digest = hashlib.sha1(data).hexdigest()
        found = self._axes.get(digest)
        if found is None:
            row = self.db.execute("select id from axes where digest = ?", (digest,)).fetchone()
            found = row[0] if row else self.db.execute(
                "insert into axes (digest, wavelengths) values (?, ?)", (digest, data)).lastrowid
            self._axes[digest] = found
        return found

    def fail(self, n: int, error: str, lab_t: float | None) -> None:
        with self._tx() as db:
            db.execute("update steps set status = 'failed', error = ?, ended_t = ?, "
                       "ended_wall = ? where n = ?", (error, lab_t, _wall(), n))

    def forget_failure(self, n: int) -> None:
        """A failed step is tried again on resume (after the operator fixed the fault)."""
        with self._tx() as db:
            db.execute("update steps set status = 'intent', error = null where n = ? and "
                       "status = 'failed'", (n,))

    def step(self, n: int) -> StepRecord | None:
        row = self.db.execute(
            "select n, kind, params, idempotent, status, started_t, deadline_t, ended_t, "
            "outcome, error, attempts from steps where n = ?", (n,)).fetchone()
        return None if row is None else _record(row)

    def steps(self) -> list[StepRecord]:
        rows = self.db.execute(
            "select n, kind, params, idempotent, status, started_t, deadline_t, ended_t, "
            "outcome, error, attempts from steps order by n")
        return [_record(r) for r in rows]

    def recorded_outcome(self, rec: StepRecord, result_type: type[Result]) -> Outcome[Any]:
        """What step ``rec`` did, rebuilt from its outcome JSON and spectra as a result of
        ``result_type`` (its step kind's), or the recovery it records."""
        assert rec.outcome is not None and rec.ended_t is not None
        return Outcome(rec.ended_t, result_from_journal(result_type, rec.outcome,
                                                        tuple(self.spectra(rec.n))))

    def spectra(self, step: int | None = None) -> list[Spectrum]:
        q = ("select s.step, s.role, s.phase, s.integration_ms, s.scans, s.full_scale, "
             "a.wavelengths, s.counts, s.meta from spectra s join axes a on a.id = s.axis")
        rows = (self.db.execute(q + " where s.step = ? order by s.id", (step,))
                if step is not None else self.db.execute(q + " order by s.id"))
        out = []
        for st, role, phase, integ, scans, fs, wl, counts, meta in rows:
            m = json.loads(meta) if meta else {}
            m.update(kind=role, phase=phase, step=st)
            out.append(Spectrum(np.frombuffer(wl, "<f8").copy(),
                                np.frombuffer(counts, "<f8").copy(), integ, scans, fs, m))
        return out

    def verdicts(self) -> list[dict[str, Any]]:
        rows = self.db.execute("select step, stage, state, action, reasons, numbers, lab_t "
                               "from verdicts order by step")
        return [{"step": s, "stage": st, "state": v, "action": a, "reasons": json.loads(r),
                 "numbers": json.loads(nu), "lab_t": t} for s, st, v, a, r, nu, t in rows]

    # --- the operator -------------------------------------------------------------------------

    def answer(self, n: int, answer: str, note: str = "") -> None:
        with self._tx() as db:
            db.execute("insert or replace into operator values (?, ?, ?, ?)",
                       (n, answer, _wall(), note))

    def answer_once(self, n: int, answer: str, note: str, who: str) -> bool:
        """Record the answer for step ``n`` unless one is there already (False then): two
        operators answering at once get one answer each way, never both. The answer and who
        gave it are one transaction."""
        with self._tx() as db:
            added = db.execute("insert or ignore into operator values (?, ?, ?, ?)",
                               (n, answer, _wall(), note)).rowcount == 1
            if added:
                db.execute("insert into requests (kind, who, wall, step, detail) "
                           "values ('answer', ?, ?, ?, ?)", (who, _wall(), n, answer))
        return added

    def request(self, kind: str, who: str, step: int | None = None, detail: str = "") -> int:
        """Journal an operator's request (a stop from the browser): what, who, when; its seq."""
        with self._tx() as db:
            seq = db.execute("insert into requests (kind, who, wall, step, detail) "
                             "values (?, ?, ?, ?, ?)", (kind, who, _wall(), step, detail)
                             ).lastrowid
        return int(seq or 0)

    def requests(self, after: int = 0) -> list[dict[str, Any]]:
        """The operators' requests after ``seq``, oldest first (none in a journal written
        before requests were kept and opened read-only)."""
        try:
            rows = self.db.execute("select seq, kind, who, wall, step, detail from requests "
                                   "where seq > ? order by seq", (after,)).fetchall()
        except sqlite3.OperationalError:
            return []
        return [dict(zip(("seq", "kind", "who", "wall", "step", "detail"), r, strict=True))
                for r in rows]

    def operator_answer(self, n: int) -> str | None:
        row = self.db.execute("select answer from operator where step = ?", (n,)).fetchone()
        return None if row is None else row[0]

    def answers(self) -> list[dict[str, Any]]:
        rows = self.db.execute("select step, answer, wall, note from operator order by step")
        return [{"step": s, "answer": a, "wall": w, "note": n} for s, a, w, n in rows]


def _record(row: tuple[Any, ...]) -> StepRecord:
    n, kind, params, idem, status, st, dl, et, outcome, error, attempts = row
    return StepRecord(n, kind, json.loads(params), bool(idem), status, st, dl, et,
                      None if outcome is None else json.loads(outcome), error, attempts)
