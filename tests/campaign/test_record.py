"""A campaign's run folders are ordinary runs: they resume alone, without the scheduler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mscrobot.app.runs import execute, load_run, resolve
from mscrobot.campaign.loader import load_campaign
from mscrobot.campaign.record import SUMMARY_NAME, create_campaign, run_campaign
from mscrobot.campaign.resume import load_resume

ROOT = Path(__file__).resolve().parents[2]


def _stall_and_reference(tmp_path: Path, lab: str = "simulated") -> tuple[Any, Path, Any]:
    """A campaign of a recipe that stalls (it asks the operator) and the reference recipe."""
    path = tmp_path / "c.yaml"
    path.write_text(f"name: stall\nlab: {lab}\nresources: {{stir_positions: 2}}\nrecipes:\n"
                    f"  - {ROOT / 'recipes' / 'cds34-zncl2-subthreshold.yaml'}\n"
                    f"  - {ROOT / 'recipes' / 'cds34-zncl2.yaml'}\n", encoding="utf-8")
    loaded = load_campaign(path)
    folder, infos = create_campaign(loaded, tmp_path / "out")
    return loaded, folder, infos


def test_a_stalled_campaign_run_is_answered_and_resumed_alone(tmp_path: Path) -> None:
    loaded, folder, infos = _stall_and_reference(tmp_path)
    summary = run_campaign(loaded, folder, infos)
    assert json.loads((folder / SUMMARY_NAME).read_text())["runs"] == summary["runs"]
    stalled, done = summary["runs"]
    assert stalled["state"] == "awaiting_operator" and stalled["forward"] == "stalled"
    assert done["state"] == "completed" and done["forward"] == "complete"
    run = folder / "runs" / stalled["id"]
    resolve(run, stalled["pending"]["step"], "abort")
    end = execute(load_run(run))
    assert str(end.state) == "completed" and end.replayed == stalled["pending"]["step"] - 1


def test_an_answered_run_is_taken_up_by_a_campaign_resume(tmp_path: Path) -> None:
    """Answered with `runs resolve`, a run awaiting the operator goes on under the scheduler on
    its own stir position; the run that had completed is left as it was."""
    loaded, folder, infos = _stall_and_reference(tmp_path, "twin")
    stalled, done = run_campaign(loaded, folder, infos)["runs"]
    assert stalled["state"] == "awaiting_operator"
    untouched = (folder / "runs" / done["id"] / "journal.sqlite").read_bytes()
    _, _, progress, _ = load_resume(folder)
    assert sorted(progress.ended) == [0, 1]  # not answered yet: still an end
    resolve(folder / "runs" / stalled["id"], stalled["pending"]["step"], "abort")
    loaded, infos, progress, _ = load_resume(folder)
    assert sorted(progress.ended) == [1] and progress.reentries[0].position == stalled["position"]
    summary = run_campaign(loaded, folder, infos, progress=progress)
    first, second = summary["runs"]
    assert (first["state"], first["reason"]) == ("completed", "operator_aborted")
    assert first["position"] == stalled["position"] and summary["unfinished"] == []
    assert second["state"] == "completed"
    assert (folder / "runs" / done["id"] / "journal.sqlite").read_bytes() == untouched
