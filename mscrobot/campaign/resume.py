"""``mscrobot campaign --resume``: find a campaign folder and rebuild the campaign from it alone.

The folder holds everything a resume needs, so nothing outside it is read again (the recipe
files and the lab file may have moved or changed since): ``campaign.yaml`` gives the resources
and ``ahead``; the record (``summary.json``) says which run folder is which run, its grid values
and the stir position each run last held; each run folder's journal has the run's exact recipe,
lab and seed. So the lab cannot be changed on resume: every run keeps the one it started on.

A run whose journal says it ended (completed, awaiting the operator, failed) is not run again:
its result is read from its journal. A run awaiting the operator whose question has been answered
since (``mscrobot runs resolve``) has not ended: it goes on under the scheduler, from its own
stir position (or alone, with ``mscrobot run --resume``). Every other run goes back under the
scheduler: an unfinished one from its journal, with what it held (``Reentry``), a run never
started from its first step. A campaign with nothing left only has its record brought up to date.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from mscrobot.app.runs import RunError, RunInfo, find_folder, is_live, load_run
from mscrobot.campaign.jobs import ended_outcome, reentry_of
from mscrobot.campaign.loader import LoadedCampaign, PlannedRun, parse_campaign_text
from mscrobot.campaign.record import (
    CAMPAIGN_FILE,
    SCHEDULE_KEYS,
    SEGMENT_KEYS,
    SUMMARY_NAME,
    Progress,
    result_fields,
    tips,
)
from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.lab.config import LabError
from mscrobot.yamldoc import DocumentError

DEFAULT_CAMPAIGNS_DIR = Path("campaigns")


def find_campaign(ref: str, out: Path) -> Path:
    """A campaign folder from its id, a unique id prefix, or a path (as ``find_run`` does)."""
    found = find_folder(ref, out, CAMPAIGN_FILE, "campaign")
    if found is not None:
        return found
    for candidate in (Path(ref), out / ref):
        if candidate.is_dir():
            raise RunError(f"{candidate} is not a campaign folder (it has no {CAMPAIGN_FILE})")
    raise RunError(f"no campaign '{ref}' in {out}/ (give its id or the path to its folder)")


def _corrupt(path: Path, what: str) -> RunError:
    return RunError(f"campaign folder {path} cannot be resumed: {what}; its run folders can "
                    "still be resumed one by one with `mscrobot run --resume`")


def _record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads((path / SUMMARY_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _corrupt(path, f"it has no {SUMMARY_NAME} (mscrobot before campaign resume wrote "
                       "it only at the end)") from None
    except (OSError, ValueError) as e:
        raise _corrupt(path, f"{SUMMARY_NAME} cannot be read ({e})") from None
    runs = record.get("runs") if isinstance(record, dict) else None
    if isinstance(runs, list) and "segment" not in record:
        raise _corrupt(path, f"its {SUMMARY_NAME} was written by mscrobot before campaign "
                       "resume")
    if (not isinstance(runs, list) or not isinstance(record.get("segment"), int)
            or any(not isinstance(r, dict) or r.get("index") != k
                   or not isinstance(r.get("id"), str) for k, r in enumerate(runs))):
        raise _corrupt(path, f"{SUMMARY_NAME} does not list the runs in order")
    return record


def _run(path: Path, entry: dict[str, Any]) -> tuple[RunInfo, dict[str, Any]]:
    folder = path / "runs" / entry["id"]
    if not (folder / JOURNAL_NAME).is_file():
        raise _corrupt(path, f"run {entry['index']}'s folder runs/{entry['id']} is missing")
    try:
        info = load_run(folder)
        journal = Journal(folder / JOURNAL_NAME)
        try:
            meta = journal.meta()
        finally:
            journal.close()
    except (sqlite3.Error, KeyError, ValueError, DocumentError, LabError) as e:
        raise _corrupt(path, f"run {entry['index']}'s journal cannot be read ({e})") from None
    if is_live(folder):
        raise RunError(f"campaign {path.name} is running in another process (run "
                       f"{entry['index']}, {entry['id']}, is in use)")
    return info, meta


def _segment(record: dict[str, Any]) -> dict[str, Any] | None:
    """The last segment's schedule as its record had it (None: it recorded nothing)."""
    mine = [r for r in record["runs"] if r.get("segment") == record["segment"]]
    if not record.get("intervals") and not mine:
        return None
    return {k: record.get(k) for k in SEGMENT_KEYS} | {"runs": [
        {k: r.get(k) for k in ("index", *SCHEDULE_KEYS[1:], "state")} for r in mine]}


def load_resume(path: Path) -> tuple[LoadedCampaign, list[RunInfo], Progress, dict[str, Any]]:
    """The campaign in ``path``, its runs and where they stand, and its last record; raises
    ``RunError`` (one line) or ``DocumentError`` (a damaged ``campaign.yaml``)."""
    source = path / CAMPAIGN_FILE
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as e:
        raise _corrupt(path, f"{CAMPAIGN_FILE} cannot be read ({e.strerror or e})") from None
    campaign = parse_campaign_text(text, str(source))
    record = _record(path)
    infos, planned, metas = [], [], []
    for entry in record["runs"]:
        info, meta = _run(path, entry)
        infos.append(info)
        metas.append(meta)
        planned.append(PlannedRun(entry["index"], info.recipe, meta["recipe_text"],
                                  meta["recipe_source"], info.seed, dict(entry.get("axes") or {})))
    if not infos:
        raise _corrupt(path, f"{SUMMARY_NAME} lists no runs")
    loaded = LoadedCampaign(campaign, str(record.get("source") or source), text, infos[0].lab,
                            metas[0]["lab_text"], planned)
    earlier = list(record.get("earlier") or [])
    last = _segment(record)
    progress = Progress(segment=record["segment"] + 1,
                        earlier=earlier + ([last] if last is not None else []))
    for entry, info in zip(record["runs"], infos, strict=True):
        k = entry["index"]
        progress.carried[k] = {key: entry.get(key) for key in SCHEDULE_KEYS}
        out = ended_outcome(info.path)
        if out is not None:
            progress.ended[k] = out
            continue
        reentry = reentry_of(info.path, entry.get("position"))
        if reentry is not None:
            progress.reentries[k] = reentry
    claimed = [r.position for r in progress.reentries.values() if r.position is not None]
    if len(set(claimed)) < len(claimed) or any(
            not isinstance(p, int) or not 0 <= p < campaign.resources.stir_positions
            for p in claimed):
        raise _corrupt(path, f"{SUMMARY_NAME} gives unfinished runs stir positions "
                       f"{claimed}, not one each of the {campaign.resources.stir_positions}")
    return loaded, infos, progress, record


def brought_up_to_date(record: dict[str, Any], progress: Progress, loaded: LoadedCampaign,
                       infos: list[RunInfo]) -> dict[str, Any]:
    """The last record with every run's result (and the tips) read again from the run folders
    (nothing left to run: no new segment, the schedule stays the one recorded)."""
    runs = [r | result_fields(progress.ended[r["index"]]) if r["index"] in progress.ended
            else r for r in record["runs"]]
    return record | {"runs": runs, "tips": tips(loaded, infos),
                     "unfinished": [r["index"] for r in runs
                                    if r["index"] not in progress.ended]}
