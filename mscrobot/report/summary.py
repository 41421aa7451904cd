"""A run in one JSON-able dict (``runs show --json``) and all runs in a table (``runs list``).

Keys are stable so scripts can rely on them; values are plain JSON types. Both work on runs in
any state, including one that has not measured anything yet; a listing never fails because one
run's journal is corrupt or locked, it shows that run as 'unreadable' with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mscrobot.app.runs import is_live
from mscrobot.engine.journal import JOURNAL_NAME
from mscrobot.report.data import RunData, UnreadableRunError, read_run

UNREADABLE = "unreadable"


def _verdict(data: RunData, stage: str) -> dict[str, Any] | None:
    v = data.last_verdict(stage)
    if v is None:
        return None
    return {"step": v["step"], "lab_time_s": v["lab_t"], "state": v["state"],
            "action": v["action"], "reasons": list(v["reasons"])}


def summarize(data: RunData) -> dict[str, Any]:
    """The summary of an already read run (the report reuses the read)."""
    from mscrobot.report.chemistry import amount_rows, chemistry_of

    meta = data.meta
    history = data.volume_history()
    report = data.report_path
    chem = chemistry_of(meta)
    return {
        "id": meta.get("id", data.run_dir.name),
        "recipe": {"name": meta.get("recipe_name"), "source": meta.get("recipe_source")},
        "lab": meta.get("lab_name"),
        "seed": meta.get("seed"),
        "created": meta.get("created"),
        "state": data.state,
        "live": is_live(data.run_dir),
        "reason": data.reason,
        "lab_time_s": data.lab_time_s,
        "steps": len(data.steps),
        "spectra": data.sample_spectra,
        "forward": _verdict(data, "forward"),
        "back": _verdict(data, "back"),
        "volumes": history[-1][1] if history else None,
        "pending": data.pending(),
        "report": None if report is None else str(report),
        "amounts": None if chem.amounts is None else chem.amounts.as_dict(),
        "amounts_text": dict(amount_rows(chem)),
        "warnings": chem.warnings,
        "beyond_the_paper": [r.as_dict() for r in chem.beyond],
        "verdict_note": chem.verdict_note(),
    }


def run_summary(run_dir: Path) -> dict[str, Any]:
    """Summary of the run in ``run_dir``; raises ``UnreadableRunError`` if its journal is
    missing, corrupt or locked."""
    return summarize(read_run(run_dir))


def run_table(runs_dir: Path) -> list[dict[str, Any]]:
    """One row per run folder in ``runs_dir`` (oldest first: ids start with the time), for
    ``runs list``. Folders without a journal are not runs and are skipped."""
    if not runs_dir.is_dir():
        return []
    rows = []
    for path in sorted(p for p in runs_dir.iterdir()
                       if not p.name.startswith(".") and (p / JOURNAL_NAME).is_file()):
        try:
            data = read_run(path, spectra=False)
        except UnreadableRunError as e:
            rows.append({"id": path.name, "recipe": None, "state": UNREADABLE, "live": False,
                         "reason": str(e),
                         "created": None, "lab_time_s": None, "forward": None, "back": None})
            continue
        forward, back = data.last_verdict("forward"), data.last_verdict("back")
        rows.append({
            "id": data.meta.get("id", path.name),
            "recipe": data.meta.get("recipe_name"),
            "state": data.state,
            "live": is_live(path),
            "reason": data.reason,
            "created": data.meta.get("created"),
            "lab_time_s": data.lab_time_s,
            "forward": None if forward is None else forward["state"],
            "back": None if back is None else back["state"],
        })
    return rows
