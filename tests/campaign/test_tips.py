"""Tips a campaign takes on the one robot, summed from the runs' Opentrons operation logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mscrobot.campaign.loader import load_campaign
from mscrobot.campaign.record import create_campaign, run_campaign
from mscrobot.campaign.report import render
from mscrobot.campaign.tips import TipUse, tip_sheet, tips_taken
from mscrobot.lab.config import load_lab

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("total", "hold", "refills"),
                         [(0, 96, 0), (96, 96, 0), (97, 96, 1), (432, 288, 1), (577, 288, 2)])
def test_refills_are_the_racks_beyond_the_first_load(total: int, hold: int,
                                                     refills: int) -> None:
    assert TipUse("right", "p300_single_gen2", (total,), hold).refills == refills


def test_racks_hold_what_their_definitions_have() -> None:
    sheet = {t.mount: t for t in tip_sheet(load_lab("simulated")[0], [{"right": 5}, {}])}
    assert sheet["right"].racks_hold == 3 * 96 and sheet["left"].racks_hold == 96
    assert sheet["right"].per_run == (5, 0) and sheet["left"].per_run == (0, 0)
    assert tip_sheet(load_lab("twin")[0], [{}]) == []  # no Opentrons pipettes, no tips


@pytest.mark.slow
def test_a_campaign_sums_its_runs_tips_against_one_robots_racks(tmp_path: Path) -> None:
    lab = (ROOT / "hardware" / "labs" / "simulated.yaml").read_text(encoding="utf-8")
    # two racks hold one run's worst case (113 tips on the p300: a run is refused below it),
    # not what seven runs take between them
    two_racks = lab.replace('tip_slots: ["11", "8", "7"]', 'tip_slots: ["11", "8"]')
    assert two_racks != lab
    (tmp_path / "lab.yaml").write_text(two_racks.replace("name: simulated", "name: two-racks"),
                                       encoding="utf-8")
    recipe = ROOT / "recipes" / "cds34-zncl2.yaml"
    (tmp_path / "c.yaml").write_text(f"name: tips\nlab: lab.yaml\nresources: {{stir_positions: 2}}"
                                     f"\nreplicates: 7\nrecipes: [{recipe}]\n", encoding="utf-8")
    loaded = load_campaign(tmp_path / "c.yaml")
    folder, infos = create_campaign(loaded, tmp_path / "out")
    summary = run_campaign(loaded, folder, infos)
    assert all(r["state"] == "completed" for r in summary["runs"])  # each alone had full racks
    right = next(t for t in summary["tips"] if t["mount"] == "right")
    samples = [sum(s["run"] == k and s["kind"] == "sample" for s in summary["steps"])
               for k in range(7)]
    assert len(right["per_run"]) == 7
    assert all(right["per_run"][k] >= samples[k] > 0 for k in range(7))  # a fresh tip each
    assert right["racks_hold"] == 192 and right["total"] == sum(right["per_run"]) > 192
    assert right["refills"] == 1
    assert "<h2>Tips</h2>" in render(summary)


def test_reading_a_runs_tips_writes_nothing(tmp_path: Path) -> None:
    """A run killed mid-write leaves a torn last line: read past it, and leave it for the run's
    own resume to drop."""
    log = tmp_path / "opentrons.jsonl"
    text = ('{"mount": "right", "tips": 3}\n{"mount": "left", "tips": 1}\n'
            '{"mount": "right", "ti')
    log.write_text(text, encoding="utf-8")
    assert tips_taken(tmp_path) == {"right": 3, "left": 1}
    assert log.read_text(encoding="utf-8") == text
    assert tips_taken(tmp_path / "no-such-run") == {}
