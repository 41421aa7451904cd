"""A campaign on disk: its folder, one run folder per run, and ``summary.json``.

``<out>/<id>/campaign.yaml`` is the file as given; ``runs/<run id>/`` are ordinary run folders
(``mscrobot runs show --out <out>/<id>/runs``); ``summary.json`` holds every run's result and the
schedule (who held which resource when, in campaign seconds) that the report plots. The folder is
made under a hidden ``.new-<id>`` name and renamed once every run folder and the first record
are in it, so a campaign folder always holds what ``mscrobot campaign --resume`` needs.

``summary.json`` is also the campaign's progress record: rewritten atomically (temp file, fsync,
``os.replace``) when a run takes a stir position, when a run ends and at the end, so a killed
campaign loses no result and no position (a resumed run takes its own back: its vial stands
there). ``unfinished`` lists the runs not ended (ended: completed, awaiting the operator, failed).

Segments: the part of a campaign one process ran. Campaign time restarts at 0 in each
(``--resume`` starts segment ``segment`` + 1): ``makespan_s`` (the last run's end),
``reached_s`` (where the record last saw campaign time), ``intervals``, ``steps``, ``waits``,
``busy_s`` and the lower bound are the latest segment's. Each earlier segment is kept under
``earlier`` as its last record had it; a killed segment went on for an unknown while after its
``reached_s``, and nothing is made up for it. A run's ``start_s``/``placed_s``/``end_s`` are in
the campaign time of segment ``segment`` (the one it last ran in; None: not yet). Runs' own
clocks never restart: a resumed run goes on from its journaled lab time (``resumed_lab_t``), and
its verdicts, ``lab_time_s`` and ``transfer_s`` always come from its journal, whole.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mscrobot.app.runs import RunError, RunFolderError, RunInfo, create_run
from mscrobot.campaign.conductor import Conductor, JobResult
from mscrobot.campaign.gating import Reentry
from mscrobot.campaign.jobs import ENDED, RunOutcome, run_folder_job
from mscrobot.campaign.loader import LoadedCampaign, PlannedRun
from mscrobot.campaign.stocks import stock_sheet
from mscrobot.campaign.tips import tip_sheet, tips_taken
from mscrobot.engine.runner import Event
from mscrobot.storage.crashpoints import crashpoint

SUMMARY_NAME = "summary.json"
CAMPAIGN_FILE = "campaign.yaml"
#: A segment's schedule, kept under ``earlier`` once another segment follows it.
SEGMENT_KEYS = ("segment", "makespan_s", "reached_s", "busy_s", "waits", "intervals", "steps",
                "wall_time_s")
#: A run's place in a segment's schedule (the rest of its entry comes from its journal).
SCHEDULE_KEYS = ("segment", "position", "start_s", "placed_s", "position_wait_s", "end_s",
                 "resumed_lab_t")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32] or "campaign"


@dataclass
class Progress:
    """Where a campaign stands when a segment starts (a fresh campaign: nothing done).

    ``ended``: runs that ended before, read from their journals; ``carried``: their schedule
    entries from the last record (and the position each unfinished run holds);
    ``reentries``: what each unfinished, started run held."""

    segment: int = 0
    earlier: list[dict[str, Any]] = field(default_factory=list)
    ended: dict[int, RunOutcome] = field(default_factory=dict)
    carried: dict[int, dict[str, Any]] = field(default_factory=dict)
    reentries: dict[int, Reentry] = field(default_factory=dict)


def write_record(path: Path, summary: dict[str, Any]) -> None:
    """Replace ``summary.json`` whole: a crash leaves the old record or the new, never half."""
    tmp = path / f".{SUMMARY_NAME}.tmp"
    crashpoint()
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(summary, indent=2))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path / SUMMARY_NAME)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    crashpoint()


def create_campaign(loaded: LoadedCampaign, out: Path) -> tuple[Path, list[RunInfo]]:
    """The campaign folder with a copy of the file, a created (not yet run) folder per run and
    a first record naming them in campaign order."""
    cid = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(loaded.campaign.name)}-{secrets.token_hex(2)}"
    path, staging = out / cid, out / f".new-{cid}"
    try:
        (staging / "runs").mkdir(parents=True)
        (staging / CAMPAIGN_FILE).write_text(loaded.text, encoding="utf-8")
        infos = [create_run(r.recipe, r.recipe_text, r.recipe_source, loaded.lab,
                            loaded.lab_text, r.seed, staging / "runs") for r in loaded.runs]
        write_record(staging, summarise(loaded, cid, [i.id for i in infos], Progress()))
        staging.rename(path)
    except (OSError, RunError) as e:
        shutil.rmtree(staging, ignore_errors=True)  # a campaign is whole or absent
        if isinstance(e, RunError) and not isinstance(e, RunFolderError):
            raise
        why = e.reason if isinstance(e, RunFolderError) else e.strerror or str(e)
        raise RunError(f"cannot create the campaign folder {path}: {why} (free space there or "
                       "give another --out)") from None
    return path, [replace(i, path=path / "runs" / i.id) for i in infos]


def _rank(reentry: Reentry | None) -> int:
    """Resumed runs holding the flow cell, then a position, then the rest, then new runs."""
    if reentry is None:
        return 3
    return 0 if reentry.leases else 1 if reentry.on_vial else 2


def run_campaign(loaded: LoadedCampaign, path: Path, infos: list[RunInfo],
                 on_event: Callable[[int, Event], None] | None = None,
                 on_start: Callable[[int, int, float], None] | None = None,
                 on_end: Callable[[JobResult], None] | None = None,
                 stop: threading.Event | None = None,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Run every run not ended yet under one scheduler (a segment), recording progress as runs
    take positions and end; write and return the summary (``RunError`` if the last write
    fails). Callbacks get campaign indexes."""
    progress = progress or Progress()
    todo = sorted((i for i in range(len(infos)) if i not in progress.ended),
                  key=lambda i: (_rank(progress.reentries.get(i)), i))
    resources = loaded.campaign.resources
    conductor = Conductor(resources.stir_positions, loaded.campaign.ahead,
                          resources.speed_groups())
    started = time.perf_counter()
    done: set[int] = set()
    ids = [i.id for i in infos]

    unwritten: list[str] = []

    def record(last: bool = False) -> dict[str, Any]:
        """Write the record now; a failed write does not stop the runs (the last one says).
        The last adds the tips every run took (read from every run folder: not each time)."""
        results = {todo[j]: g.result for j, g in conductor.gates.items()}
        summary = summarise(loaded, path.name, ids, progress, conductor, results, done)
        if last:
            summary["tips"] = tips(loaded, infos)
        summary["wall_time_s"] = time.perf_counter() - started
        try:
            write_record(path, summary)
        except OSError as e:
            unwritten.append(f"cannot write the campaign record {path / SUMMARY_NAME}: "
                             f"{e.strerror or e}")
        return summary

    def placed(j: int, position: int, t: float) -> None:
        record()
        if on_start is not None:
            on_start(todo[j], position, t)

    def ended(result: JobResult) -> None:
        done.add(todo[result.index])
        record()
        if on_end is not None:
            on_end(replace(result, index=todo[result.index]))

    record()
    conductor.run([run_folder_job(infos[i], on_event, stop, i, progress.reentries.get(i))
                   for i in todo], placed, ended)
    unwritten.clear()
    summary = record(last=True)
    if unwritten:
        raise RunError(unwritten[0] + " (the runs' journals hold their results)")
    return summary


def tips(loaded: LoadedCampaign, infos: list[RunInfo]) -> list[dict[str, Any]]:
    """The tips each pipette took over every run folder (all segments), against its racks."""
    return [asdict(use) | {"total": use.total, "refills": use.refills}
            for use in tip_sheet(loaded.lab, [tips_taken(i.path) for i in infos])]


def _planned(planned: PlannedRun, run_id: str) -> dict[str, Any]:
    return {"index": planned.index, "id": run_id, "recipe": planned.recipe.name,
            "axes": planned.axes, "seed": planned.seed,
            "salt": planned.recipe.salt.compound,
            "equivalents": planned.recipe.equivalents_per_cluster(),
            "stir_rpm": float(planned.recipe.exchange.stir_rate.m_as("rpm"))}


def _schedule(res: JobResult, segment: int, ended: bool) -> dict[str, Any]:
    return {"segment": segment, "position": res.position, "start_s": res.offset,
            "placed_s": res.placed, "position_wait_s": res.position_wait,
            "end_s": res.end if ended else None, "resumed_lab_t": res.resumed_lab_t}


def result_fields(out: RunOutcome | None, error: str | None = None) -> dict[str, Any]:
    return {
        "error": error,
        "state": None if out is None else out.state,
        "reason": None if out is None else out.reason,
        "forward": None if out is None else out.forward,
        "back": None if out is None else out.back,
        "transfer_s": None if out is None else out.transfer_s,
        "lab_time_s": None if out is None else out.lab_t,
        "verdicts": [] if out is None else [
            {k: v[k] for k in ("stage", "state", "action", "lab_t")} for v in out.verdicts],
        "pending": None if out is None else out.pending,
    }


def _nothing_scheduled(carried: dict[str, Any] | None) -> dict[str, Any]:
    """A run with no place in this segment yet: what the last record said (its position, for
    a run whose vial stands on one), else nothing."""
    base: dict[str, Any] = dict.fromkeys(SCHEDULE_KEYS)
    base["position_wait_s"] = 0.0
    return base | {k: carried[k] for k in SCHEDULE_KEYS if carried and k in carried}


def summarise(loaded: LoadedCampaign, campaign_id: str, run_ids: list[str], progress: Progress,
              conductor: Conductor | None = None, results: dict[int, JobResult] | None = None,
              done: set[int] | None = None) -> dict[str, Any]:
    """The record as plain data (pure): every run, and the current segment's schedule.
    ``results``: this segment's runs so far by campaign index; ``done``: those that ended."""
    results, done = results or {}, done or set()
    runs = []
    for planned, run_id in zip(loaded.runs, run_ids, strict=True):
        k = planned.index
        entry = _planned(planned, run_id)
        if k in progress.ended:
            entry |= (_nothing_scheduled(progress.carried.get(k))
                      | result_fields(progress.ended[k]))
        elif k in results:
            res = results[k]
            entry |= _schedule(res, progress.segment, k in done)
            entry |= result_fields(res.value, res.error) if k in done else result_fields(None)
        else:
            entry |= _nothing_scheduled(progress.carried.get(k)) | result_fields(None)
        runs.append(entry)
    mine = [r for r in runs if r["index"] in done]
    busy = conductor.scheduler.busy_time() if conductor is not None else {}
    shared = {k: v for k, v in busy.items() if not k.startswith("position")}
    # a run's time in the segment, less the time it waited (references taken) for a position
    durations = [r["end_s"] - r["start_s"] - r["position_wait_s"] for r in mine]
    positions = loaded.campaign.resources.stir_positions
    bound = {"busiest_resource_s": max(shared.values(), default=0.0),
             "longest_run_s": max(durations, default=0.0),
             "run_time_per_position_s": sum(durations) / positions}
    waits = conductor.scheduler.waits if conductor is not None else []
    return {
        "id": campaign_id, "campaign": loaded.campaign.name, "source": loaded.source,
        "lab": loaded.lab.name, "positions": positions, "segment": progress.segment,
        "unfinished": [r["index"] for r in runs if r["state"] not in ENDED],
        "makespan_s": max((r["end_s"] for r in mine), default=0.0),
        "reached_s": conductor.scheduler.now if conductor is not None else 0.0,
        "busy_s": busy,
        "lower_bound_s": max(bound.values(), default=0.0), "lower_bound_parts": bound,
        "waits": {"count": len(waits), "total_s": sum(w.granted - w.requested for w in waits)},
        "runs": runs,
        "stocks": [asdict(need) | {"short": need.short}
                   for need in stock_sheet([r.recipe for r in loaded.runs], loaded.lab)],
        "intervals": [] if conductor is None else [asdict(iv) for iv in
                                                   conductor.scheduler.intervals],
        "steps": [] if conductor is None else [asdict(s) for s in conductor.steps()],
        "earlier": progress.earlier,
        "wall_time_s": 0.0,
    }
