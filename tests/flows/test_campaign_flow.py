"""The campaign flow against a real Prefect server: instruments shared through global
concurrency limits, never held by two runs at once (wall-clock holds as recorded)."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.campaign import campaign, limit_names
from mscrobot.app.runs import execute, load_run
from mscrobot.campaign.loader import load_campaign
from mscrobot.campaign.record import create_campaign
from mscrobot.engine.journal import JOURNAL_NAME

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_campaign_flow_shares_instruments_through_limits(server: None, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(f"""name: flow screen
resources: {{stir_positions: 2}}
grid:
  base: {ROOT / 'recipes' / 'cds34-zncl2.yaml'}
  vary:
    salt.compound: [ZnCl2, Zn(OTf)2]
    back_exchange.enabled: [false]
""", encoding="utf-8")
    state = campaign(str(tmp_path / "c.yaml"), lab="twin", out=str(tmp_path / "out"),
                     prefix="t", return_state=True)
    result = state.result()
    assert [r["state"] for r in result["runs"]] == ["completed"] * 2
    assert [r["position"] for r in result["runs"]] == [0, 1]
    by_resource = defaultdict(list)
    for resource, run, start, end in result["holds"]:
        by_resource[resource].append((start, end, run))
    assert {"robot", "spectrometer", "position-0", "position-1"} <= set(by_resource)
    for resource, holds in by_resource.items():
        holds.sort()
        for a, b in itertools.pairwise(holds):
            assert a[1] <= b[0], f"{resource} held by runs {a[2]} and {b[2]} at once"
    with get_client(sync_client=True) as client:
        limits = {lim.name: lim for lim in client.read_global_concurrency_limits()}
    for name in limit_names("t", 2):
        assert limits[name].limit == 1 and limits[name].active_slots == 0
    record = json.loads((Path(result["path"]) / "summary.json").read_text(encoding="utf-8"))
    assert record["clock"] == "wall" and record["unfinished"] == []
    assert [(r["salt"], r["forward"], r["position"]) for r in record["runs"]] == [
        ("ZnCl2", "complete", 0), ("Zn(OTf)2", "complete", 1)]
    assert len(record["intervals"]) == len(result["holds"])
    assert record["makespan_s"] == pytest.approx(
        max(h[3] for h in result["holds"]) - min(h[2] for h in result["holds"]))
    assert "Prefect flow" in Path(result["report"]).read_text(encoding="utf-8")
    with get_client(sync_client=True) as client:
        keys = {a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))}
    assert set(keys) == {"campaign-runs", "campaign-report"}
    assert "Zn(OTf)2" in str(keys["campaign-runs"].data)
    assert Path(result["report"]).resolve().as_uri() in str(keys["campaign-report"].data)


def test_the_flow_goes_on_with_a_campaign_folder(server: None, tmp_path: Path) -> None:
    """resume=: runs that ended are left as they are; the others run, and the record has all."""
    recipe = ROOT / "recipes" / "cds34-zncl2.yaml"
    (tmp_path / "c.yaml").write_text(f"name: resumed\nresources: {{stir_positions: 2}}\n"
                                     f"replicates: 2\nrecipes: [{recipe}]\n", encoding="utf-8")
    loaded = load_campaign(tmp_path / "c.yaml", "twin")
    path, infos = create_campaign(loaded, tmp_path / "out")
    assert str(execute(load_run(infos[0].path)).state) == "completed"
    journal = infos[0].path / JOURNAL_NAME
    before = journal.read_bytes()
    result = campaign(resume=path.name, out=str(tmp_path / "out"), lab="twin", prefix="r")
    assert [r["index"] for r in result["runs"]] == [1]
    assert {h[1] for h in result["holds"]} == {1}
    assert journal.read_bytes() == before  # the run that had ended was not run again
    record = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    assert [r["state"] for r in record["runs"]] == ["completed"] * 2
    assert record["runs"][0]["forward"] == record["runs"][1]["forward"] == "complete"
    with pytest.raises(ValueError, match="not both"):
        campaign.fn(str(tmp_path / "c.yaml"), resume=path.name, out=str(tmp_path / "out"))


def test_the_flow_refuses_a_shared_stirrer_speed(tmp_path: Path) -> None:
    """Limits of 1 per position cannot say "any number of runs at one rpm": refuse, not ignore."""
    (tmp_path / "c.yaml").write_text(f"name: shared\nresources: {{stir_positions: 2, "
                                     f"shared_speed: true}}\nrecipes: "
                                     f"[{ROOT / 'recipes' / 'cds34-zncl2.yaml'}]\n",
                                     encoding="utf-8")
    with pytest.raises(ValueError, match="shared_speed"):
        campaign.fn(str(tmp_path / "c.yaml"), out=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
