"""A lab-notebook entry from the run folder alone: amounts, masses, verdicts, assumptions."""

from __future__ import annotations

import json
from pathlib import Path

from mscrobot.report.notebook import notebook_entry
from tests.report.conftest import Runs


def test_an_entry_holds_what_a_chemist_writes_up(runs: Runs, tmp_path: Path) -> None:
    before = sorted(p.name for p in runs.completed.iterdir())
    files = notebook_entry(runs.completed, tmp_path / "entry")
    assert [f.name for f in files] == ["entry.md", "entry.json", "spectra.png", "bands.png",
                                       "volumes.png"]
    assert sorted(p.name for p in runs.completed.iterdir()) == before  # the run is only read
    doc = json.loads((tmp_path / "entry" / "entry.json").read_text())
    assert doc["state"] == "completed" and doc["simulated"] is True
    assert doc["amounts"]["clusters"].startswith("30 nmol (CdS)34")
    assert doc["amounts"]["to weigh for the salt stock"] == "102 mg ZnCl2 in 15 mL"
    assert doc["materials"]["salt"] == "ZnCl2 in DMF, 0.05 M, 1.5 mL"
    assert [v["state"] for v in doc["verdicts"]][-1] == "complete"
    assert {r["topic"] for r in doc["beyond_the_paper"]} >= {"polar band 2"}
    md = (tmp_path / "entry" / "entry.md").read_text()
    assert md.startswith("# (CdS)34 with ZnCl2 in DMF\n")
    assert "| metal per cluster | 2500 Zn |" in md
    assert "![bands](bands.png)" in md
    for f in files[2:]:
        assert f.read_bytes().startswith(b"\x89PNG")


def test_an_entry_of_a_waiting_run_carries_the_warning(runs: Runs, tmp_path: Path) -> None:
    notebook_entry(runs.awaiting, tmp_path)
    doc = json.loads((tmp_path / "entry.json").read_text())
    assert doc["state"] == "awaiting_operator"
    assert any("5 Zn per cluster is below" in w for w in doc["warnings"])
    assert "5 Zn per cluster is below" in (tmp_path / "entry.md").read_text()
