"""A campaign on disk: its folder, one run folder per run, and ``summary.json``.

``<out>/<id>/campaign.yaml`` is the file as given; ``runs/<run id>/`` are ordinary run folders
(``mscrobot runs show --out <out>/<id>/runs``); ``summary.json`` holds every run's result and the
schedule (who held which resource when, in campaign seconds) that the report plots.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mscrobot.campaign.conductor import Conductor, JobResult
from mscrobot.campaign.jobs import RunOutcome, run_folder_job
from mscrobot.campaign.loader import LoadedCampaign
from mscrobot.campaign.stocks import stock_sheet
from mscrobot.campaign.tips import tip_sheet, tips_taken
from mscrobot.engine.runner import Event
from mscrobot.engine.runs import RunError, RunInfo, create_run

SUMMARY_NAME = "summary.json"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32] or "campaign"


def create_campaign(loaded: LoadedCampaign, out: Path) -> tuple[Path, list[RunInfo]]:
    """The campaign folder with a copy of the file and a created (not yet run) folder per run."""
    cid = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(loaded.campaign.name)}-{secrets.token_hex(2)}"
    path = out / cid
    try:
        (path / "runs").mkdir(parents=True)
        (path / "campaign.yaml").write_text(loaded.text, encoding="utf-8")
    except OSError as e:
        raise RunError(f"cannot create the campaign folder {path}: {e.strerror or e}") from None
    infos = [create_run(r.recipe, r.recipe_text, r.recipe_source, loaded.lab, loaded.lab_text,
                        r.seed, path / "runs") for r in loaded.runs]
    return path, infos


def run_campaign(loaded: LoadedCampaign, path: Path, infos: list[RunInfo],
                 on_event: Callable[[int, Event], None] | None = None,
                 on_start: Callable[[int, int, float], None] | None = None,
                 on_end: Callable[[JobResult], None] | None = None,
                 stop: threading.Event | None = None) -> dict[str, Any]:
    """Run every run under one scheduler; write and return the summary."""
    resources = loaded.campaign.resources
    conductor = Conductor(resources.stir_positions, loaded.campaign.ahead,
                          resources.speed_groups())
    started = time.perf_counter()
    results = conductor.run([run_folder_job(info, on_event, stop, i)
                             for i, info in enumerate(infos)], on_start, on_end)
    summary = summarise(loaded, conductor, results, [i.id for i in infos])
    summary["tips"] = [asdict(use) | {"total": use.total, "refills": use.refills}
                       for use in tip_sheet(loaded.lab, [tips_taken(i.path) for i in infos])]
    summary["wall_time_s"] = time.perf_counter() - started
    (path / SUMMARY_NAME).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def summarise(loaded: LoadedCampaign, conductor: Conductor, results: list[JobResult],
              run_ids: list[str]) -> dict[str, Any]:
    """Everything the report and the benchmark need, as plain data (pure)."""
    sched = conductor.scheduler
    runs = []
    for planned, res, run_id in zip(loaded.runs, results, run_ids, strict=True):
        out: RunOutcome | None = res.value
        runs.append({
            "index": planned.index, "id": run_id, "recipe": planned.recipe.name,
            "axes": planned.axes, "seed": planned.seed,
            "salt": planned.recipe.salt.compound,
            "equivalents": planned.recipe.equivalents_per_cluster(),
            "stir_rpm": float(planned.recipe.exchange.stir_rate.m_as("rpm")),
            "position": res.position, "start_s": res.offset, "placed_s": res.placed,
            "position_wait_s": res.position_wait, "end_s": res.end,
            "error": res.error,
            "state": None if out is None else out.state,
            "reason": None if out is None else out.reason,
            "forward": None if out is None else out.forward,
            "back": None if out is None else out.back,
            "transfer_s": None if out is None else out.transfer_s,
            "lab_time_s": None if out is None else out.lab_t,
            "verdicts": [] if out is None else [
                {k: v[k] for k in ("stage", "state", "action", "lab_t")} for v in out.verdicts],
            "pending": None if out is None else out.pending,
        })
    busy = sched.busy_time()
    shared = {k: v for k, v in busy.items() if not k.startswith("position")}
    # a run's time in the campaign, less the time it waited (references taken) for a position
    durations = [r["end_s"] - r["start_s"] - r["position_wait_s"] for r in runs]
    positions = loaded.campaign.resources.stir_positions
    makespan = max((r["end_s"] for r in runs), default=0.0)
    bound = {"busiest_resource_s": max(shared.values(), default=0.0),
             "longest_run_s": max(durations, default=0.0),
             "run_time_per_position_s": sum(durations) / positions}
    return {
        "campaign": loaded.campaign.name, "source": loaded.source, "lab": loaded.lab.name,
        "positions": positions, "makespan_s": makespan, "busy_s": busy,
        "lower_bound_s": max(bound.values(), default=0.0), "lower_bound_parts": bound,
        "waits": {"count": len(sched.waits),
                  "total_s": sum(w.granted - w.requested for w in sched.waits)},
        "runs": runs,
        "stocks": [asdict(need) | {"short": need.short}
                   for need in stock_sheet([r.recipe for r in loaded.runs], loaded.lab)],
        "intervals": [asdict(iv) for iv in sched.intervals],
        "steps": [asdict(s) for s in conductor.steps()],
    }
