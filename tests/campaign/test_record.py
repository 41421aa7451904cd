"""A campaign's run folders are ordinary runs: they resume alone, without the scheduler."""

from __future__ import annotations

import json
from pathlib import Path

from mscrobot.campaign.loader import load_campaign
from mscrobot.campaign.record import SUMMARY_NAME, create_campaign, run_campaign
from mscrobot.engine.runs import execute, load_run, resolve

ROOT = Path(__file__).resolve().parents[2]


def test_a_stalled_campaign_run_is_answered_and_resumed_alone(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"name: stall\nresources: {{stir_positions: 2}}\nrecipes:\n"
                    f"  - {ROOT / 'recipes' / 'cds34-zncl2-subthreshold.yaml'}\n"
                    f"  - {ROOT / 'recipes' / 'cds34-zncl2.yaml'}\n", encoding="utf-8")
    loaded = load_campaign(path)
    folder, infos = create_campaign(loaded, tmp_path / "out")
    summary = run_campaign(loaded, folder, infos)
    assert json.loads((folder / SUMMARY_NAME).read_text())["runs"] == summary["runs"]
    stalled, done = summary["runs"]
    assert stalled["state"] == "awaiting_operator" and stalled["forward"] == "stalled"
    assert done["state"] == "completed" and done["forward"] == "complete"
    run = folder / "runs" / stalled["id"]
    resolve(run, stalled["pending"]["step"], "abort")
    end = execute(load_run(run))
    assert str(end.state) == "completed" and end.replayed == stalled["pending"]["step"] - 1
