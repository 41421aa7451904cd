"""What the browser shows of runs, read from their journals (the one place a run's state lives).

A change is seen by the journal files' size and modification time (the WAL grows with every
commit) and by the run's lock (a process that ends or dies without a last write), which costs
two ``stat`` calls and one ``flock`` probe per look. What is derived from a journal is cached
by that fingerprint, so many browsers watching one run read it once per change.

Spectra are read incrementally (only rows after the last one read), corrected against the
latest reference of their blank exactly as the report does, cut to the recipe's analysis
window and thinned to at most ``MAX_POINTS`` points; only the latest ``KEEP_PER_PHASE`` of
each phase are kept, so a 4-hour run with 2000 spectra loads as fast as a short one.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mscrobot.app.runs import is_live
from mscrobot.engine.journal import JOURNAL_NAME
from mscrobot.report.data import UnreadableRunError, read_run
from mscrobot.spectra.types import Spectrum

#: The sample spectra kept (and sent to a page that opens) per phase.
KEEP_PER_PHASE = 24
#: Points per spectrum sent to the page.
MAX_POINTS = 400
#: Steps of the log sent to the page (the latest).
MAX_STEPS = 400

Fingerprint = tuple[int, int, int, int, bool]


def fingerprint(run_dir: Path) -> Fingerprint:
    """Changes whenever the run's journal is written or its process starts or ends."""
    out: list[int] = []
    for name in (JOURNAL_NAME, JOURNAL_NAME + "-wal"):
        try:
            st = os.stat(run_dir / name)
            out += [st.st_mtime_ns, st.st_size]
        except OSError:
            out += [0, 0]
    return (out[0], out[1], out[2], out[3], is_live(run_dir))


def run_dirs(runs_dir: Path) -> list[Path]:
    """The run folders in ``runs_dir``, oldest first (ids start with the time)."""
    if not runs_dir.is_dir():
        return []
    return sorted(
        p for p in runs_dir.iterdir() if not p.name.startswith(".") and (p / JOURNAL_NAME).is_file()
    )


def _verdict_text(v: dict[str, Any] | None) -> str | None:
    return None if v is None else f"{v['stage']} {v['state']} → {v['action']}"


def run_row(run_dir: Path) -> dict[str, Any]:
    """One line of the runs page: state, recipe, lab, last verdict, lab time, waiting."""
    try:
        data = read_run(run_dir, spectra=False)
    except UnreadableRunError as e:
        return {
            "id": run_dir.name,
            "recipe": None,
            "lab": None,
            "state": "unreadable",
            "reason": str(e),
            "live": False,
            "verdict": None,
            "lab_time_s": None,
            "waiting": False,
            "created": None,
        }
    live = is_live(run_dir)
    state = data.state
    if state == "running" and not live:
        state = "interrupted"
    return {
        "id": data.meta.get("id", run_dir.name),
        "recipe": data.meta.get("recipe_name"),
        "lab": data.meta.get("lab_name"),
        "state": state,
        "reason": data.reason,
        "live": live,
        "created": data.meta.get("created"),
        "verdict": _verdict_text(data.verdicts[-1] if data.verdicts else None),
        "lab_time_s": data.lab_time_s,
        "waiting": data.pending() is not None,
    }


def _describe(kind: str, params: dict[str, Any]) -> str:
    from mscrobot.procedure.steps import step_from_params

    try:
        return step_from_params(kind, params).describe()
    except (KeyError, TypeError, ValueError):
        return f"{kind} {json.dumps(params)}"


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def _requests(run_dir: Path) -> list[dict[str, Any]]:
    try:
        con = sqlite3.connect(
            f"{(run_dir / JOURNAL_NAME).resolve().as_uri()}?mode=ro", uri=True, timeout=0.5
        )
        try:
            rows = con.execute(
                "select seq, kind, who, wall, step, detail from requests order by seq"
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return []  # a journal from before requests were kept
    return [
        dict(zip(("seq", "kind", "who", "wall", "step", "detail"), r, strict=True)) for r in rows
    ]


#: What a run's record says of its chemistry, by run: it never changes once the run is
#: created, and parsing the recipe again is most of the cost of reading a run.
_CHEMISTRY: dict[tuple[str, str], dict[str, Any]] = {}


def _chemistry(run_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
    from mscrobot.recipe.loader import load_recipe_text
    from mscrobot.report.chemistry import amount_rows, chemistry_of
    from mscrobot.yamldoc import DocumentError

    key = (str(run_dir.resolve()), str(meta.get("id")) + str(meta.get("created")))
    found = _CHEMISTRY.get(key)
    if found is None:
        chem = chemistry_of(meta)
        threshold = None
        try:
            recipe = load_recipe_text(
                meta["recipe_text"], meta.get("recipe_source") or "<recipe>"
            ).recipe
            threshold = recipe.monitoring.thresholds.complete_fraction
        except (KeyError, DocumentError):
            pass
        found = {
            "amounts": None if chem.amounts is None else chem.amounts.as_dict(),
            "amounts_text": dict(amount_rows(chem)),
            "warnings": chem.warnings,
            "beyond_the_paper": [r.as_dict() for r in chem.beyond],
            "verdict_note": chem.verdict_note(),
            "threshold": threshold,
        }
        _CHEMISTRY[key] = found
    return found


def _last_verdict(verdicts: list[dict[str, Any]], stage: str) -> dict[str, Any] | None:
    found = [v for v in verdicts if v["stage"] == stage]
    if not found:
        return None
    v = found[-1]
    return {
        "step": v["step"],
        "lab_time_s": v["lab_t"],
        "state": v["state"],
        "action": v["action"],
        "reasons": list(v["reasons"]),
    }


def _device_readings(steps: list[Any]) -> list[dict[str, Any]]:
    """Each device's last reading the journal holds: the stirrer's read-back speed, the liquid
    handler's last operation (with the liquid height it sampled at), the spectrometer's last
    integration time (the spectra themselves are on the charts)."""
    out = []
    last: dict[str, Any] = {}
    for r in steps:
        if r.status != "done" or not r.outcome:
            continue
        if "rpm" in r.outcome:
            last["stirrer"] = (r, f"{float(r.outcome['rpm']):g} rpm (read back)")
        if "vessels" in r.outcome:
            extra = (
                f", liquid at {float(r.outcome['height_mm']):.1f} mm"
                if "height_mm" in r.outcome
                else ""
            )
            last["liquid handler"] = (r, _describe(r.kind, r.params) + extra)
        if "integration_ms" in r.outcome:
            last["spectrometer"] = (
                r,
                f"integration {float(r.outcome['integration_ms']):g} ms "
                f"({_describe(r.kind, r.params)})",
            )
    for device, (r, reading) in last.items():
        out.append({"device": device, "reading": reading, "step": r.n, "t": r.ended_t})
    return out


def run_state(run_dir: Path) -> dict[str, Any]:
    """Everything of the run page but its spectra: summary (the keys of ``runs show
    --json``), question, fractions against lab time with the threshold, verdicts, the step
    log, the operators' requests."""
    data = read_run(run_dir, spectra=False)
    chem = dict(_chemistry(run_dir, data.meta))
    threshold = chem.pop("threshold")
    meta = data.meta
    live = is_live(run_dir)
    history = data.volume_history()
    report = data.report_path
    summary = {
        "id": meta.get("id", run_dir.name),
        "recipe": {"name": meta.get("recipe_name"), "source": meta.get("recipe_source")},
        "lab": meta.get("lab_name"),
        "seed": meta.get("seed"),
        "created": meta.get("created"),
        "state": "interrupted" if data.state == "running" and not live else data.state,
        "live": live,
        "reason": data.reason,
        "lab_time_s": data.lab_time_s,
        "steps": len(data.steps),
        "forward": _last_verdict(data.verdicts, "forward"),
        "back": _last_verdict(data.verdicts, "back"),
        "volumes": history[-1][1] if history else None,
        "pending": data.pending(),
        "report": None if report is None else str(report),
        **chem,
    }
    fractions = [
        {
            "t": v["lab_t"],
            "stage": v["stage"],
            "step": v["step"],
            "alkane": _finite(v["numbers"].get("remaining")),
            "polar": _finite(v["numbers"].get("polar")),
        }
        for v in data.verdicts
        if "remaining" in v["numbers"]
    ]
    steps = [
        {
            "n": r.n,
            "kind": r.kind,
            "text": _describe(r.kind, r.params),
            "status": r.status,
            "started_t": r.started_t,
            "ended_t": r.ended_t,
            "error": r.error,
            "attempts": r.attempts,
        }
        for r in data.steps[-MAX_STEPS:]
    ]
    verdicts = [
        {
            **v,
            "numbers": {
                k: _finite(x) if isinstance(x, float) else x for k, x in v["numbers"].items()
            },
        }
        for v in data.verdicts
    ]
    return {
        "summary": summary,
        "devices": _device_readings(data.steps),
        "threshold": threshold,
        "fractions": fractions,
        "verdicts": verdicts,
        "steps": steps,
        "steps_total": len(data.steps),
        "answers": data.answers,
        "requests": _requests(run_dir),
    }


@dataclass
class SpectraFeed:
    """A run's sample spectra as absorbance, read incrementally; shared by every page."""

    run_dir: Path
    last_id: int = 0
    window: tuple[float, float] | None = None
    #: phase → its latest corrected samples
    recent: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    #: blank → [(spectrum id, dark, reference)], in journal order
    refs: dict[str, list[tuple[int, Spectrum, Spectrum]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self) -> None:
        """Read the spectra journaled since the last update."""
        with self.lock:
            con = sqlite3.connect(
                f"{(self.run_dir / JOURNAL_NAME).resolve().as_uri()}?mode=ro", uri=True, timeout=0.5
            )
            try:
                con.execute("begin")
                self._read(con)
                con.execute("rollback")
            finally:
                con.close()

    def _window(self, con: sqlite3.Connection) -> tuple[float, float] | None:
        if self.window is None:
            from mscrobot.procedure.reading import analysis_windows
            from mscrobot.recipe.loader import load_recipe_text
            from mscrobot.yamldoc import DocumentError

            meta = dict(con.execute("select key, value from meta").fetchall())
            try:
                recipe = load_recipe_text(
                    json.loads(meta["recipe_text"]), json.loads(meta.get("recipe_source", '""'))
                ).recipe
                self.window = analysis_windows(recipe).window
            except (KeyError, DocumentError, ValueError):
                self.window = (200.0, 1100.0)
        return self.window

    def _read(self, con: sqlite3.Connection) -> None:
        rows = con.execute(
            "select s.id, s.step, s.role, s.phase, st.params, st.ended_t from spectra s "
            "join steps st on st.n = s.step where s.id > ? order by s.id",
            (self.last_id,),
        ).fetchall()
        if not rows:
            return
        samples = [r for r in rows if r[2] == "sample"]
        for r in samples:
            self.counts[str(r[3])] = self.counts.get(str(r[3]), 0) + 1
        # of a long run's first read, only the latest samples of each phase are corrected
        wanted: set[int] = set()
        per_phase: dict[str, int] = {}
        for r in reversed(samples):
            if per_phase.get(str(r[3]), 0) < KEEP_PER_PHASE:
                per_phase[str(r[3])] = per_phase.get(str(r[3]), 0) + 1
                wanted.add(r[0])
        load = wanted | {r[0] for r in rows if r[2] in ("dark", "reference")}
        spectra = self._load(con, sorted(load))
        window = self._window(con)
        blank_reads: dict[int, dict[str, Spectrum]] = {}  # a reference step's dark and ref
        for sid, step, role, phase, params_text, ended_t in rows:
            params = json.loads(params_text)
            blank = str(params.get("blank"))
            if role in ("dark", "reference") and sid in spectra:
                reads = blank_reads.setdefault(step, {})
                reads.setdefault(role, spectra[sid])
                if {"dark", "reference"} <= reads.keys():
                    self.refs.setdefault(blank, []).append((sid, reads["dark"], reads["reference"]))
            elif role == "sample" and sid in wanted:
                ref = self.refs.get(blank)
                if not ref:
                    continue
                _, dark, reference = ref[-1]
                sample = spectra[sid]
                t = sample.meta.get("time_s", ended_t)
                kept = self.recent.setdefault(str(phase), deque(maxlen=KEEP_PER_PHASE))
                kept.append(
                    {
                        "id": sid,
                        "step": step,
                        "phase": phase,
                        "t": _finite(t),
                        **_thin(sample, dark, reference, window),
                    }
                )
        self.last_id = rows[-1][0]

    def _load(self, con: sqlite3.Connection, ids: list[int]) -> dict[int, Spectrum]:
        out: dict[int, Spectrum] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = (
                "select s.id, s.integration_ms, s.scans, s.full_scale, a.wavelengths, "
                "s.counts, s.meta from spectra s join axes a on a.id = s.axis "
                f"where s.id in ({','.join('?' * len(chunk))})"
            )
            for sid, integ, scans, fs, wl, counts, meta in con.execute(q, chunk):
                out[sid] = Spectrum(
                    np.frombuffer(wl, "<f8").copy(),
                    np.frombuffer(counts, "<f8").copy(),
                    integ,
                    scans,
                    fs,
                    json.loads(meta) if meta else {},
                )
        return out

    def since(self, after: int) -> list[dict[str, Any]]:
        """The kept spectra after id ``after`` (a page that opens: the latest of each phase)."""
        with self.lock:
            items = [s for kept in self.recent.values() for s in kept if s["id"] > after]
        return sorted(items, key=lambda s: s["id"])


def _thin(
    sample: Spectrum, dark: Spectrum, reference: Spectrum, window: tuple[float, float] | None
) -> dict[str, list[float | None]]:
    """Absorbance within the analysis window, at most ``MAX_POINTS`` points, for the plot."""
    from mscrobot.spectra.correction import to_absorbance

    wl = np.asarray(sample.wavelengths_nm, float)
    a = np.asarray(to_absorbance(sample, dark, reference)[0], float)
    if window is not None:
        keep = (wl >= window[0]) & (wl <= window[1])
        wl, a = wl[keep], a[keep]
    step = max(1, math.ceil(len(wl) / MAX_POINTS))
    wl, a = wl[::step], a[::step]
    return {
        "wl": [round(float(x), 2) for x in wl],
        "a": [round(float(y), 5) if math.isfinite(y) else None for y in a],
    }


def recipe_differences(texts: dict[str, str]) -> list[dict[str, Any]]:
    """How each run's recipe differs from the first's, as unified diff lines (comments too:
    they say what a chemist meant)."""
    import difflib

    names = list(texts)
    if not names:
        return []
    first = texts[names[0]].splitlines()
    out = []
    for name in names[1:]:
        lines = list(
            difflib.unified_diff(first, texts[name].splitlines(), names[0], name, lineterm="", n=1)
        )
        out.append({"against": names[0], "run": name, "lines": lines})
    return out


#: A campaign folder (``mscrobot campaign --out``) holds these; its runs are under ``runs/``.
CAMPAIGN_FILES = ("campaign.yaml", "summary.json")


def campaign_dirs(runs_dir: Path) -> list[Path]:
    """The campaign folders in ``runs_dir``, oldest first."""
    if not runs_dir.is_dir():
        return []
    return sorted(
        p
        for p in runs_dir.iterdir()
        if not p.name.startswith(".") and all((p / f).is_file() for f in CAMPAIGN_FILES)
    )


def campaign_fingerprint(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path / "summary.json")
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def campaign_state(path: Path) -> dict[str, Any]:
    """A campaign's record as its page shows it: each run's position, times and verdicts, who
    held which resource when (the Gantt chart), the stock and tip sheets. Read from its
    ``summary.json``, which the campaign rewrites atomically as it goes."""
    try:
        doc = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return {"id": path.name, "error": f"{path / 'summary.json'} cannot be read: {e}"}
    runs = [
        {
            k: r.get(k)
            for k in (
                "index",
                "id",
                "recipe",
                "state",
                "reason",
                "forward",
                "back",
                "position",
                "start_s",
                "placed_s",
                "end_s",
                "transfer_s",
                "lab_time_s",
                "error",
            )
        }
        | {"ref": f"{path.name}~{r.get('id')}"}
        for r in doc.get("runs", [])
    ]
    return {
        "id": doc.get("id", path.name),
        "name": doc.get("campaign"),
        "lab": doc.get("lab"),
        "positions": doc.get("positions"),
        "makespan_s": doc.get("makespan_s"),
        "lower_bound_s": doc.get("lower_bound_s"),
        "unfinished": doc.get("unfinished") or [],
        "runs": runs,
        "intervals": doc.get("intervals") or [],
        "stocks": doc.get("stocks") or [],
        "tips": doc.get("tips") or [],
    }


def campaign_row(path: Path) -> dict[str, Any]:
    """One line of the campaigns list."""
    doc = campaign_state(path)
    states: dict[str, int] = {}
    for r in doc.get("runs", []):
        states[str(r["state"])] = states.get(str(r["state"]), 0) + 1
    return {
        "id": doc["id"],
        "name": doc.get("name"),
        "lab": doc.get("lab"),
        "runs": len(doc.get("runs", [])),
        "states": states,
        "makespan_s": doc.get("makespan_s"),
        "unfinished": len(doc.get("unfinished", [])),
        "waiting": states.get("awaiting_operator", 0) > 0,
        "error": doc.get("error"),
    }
