"""The campaign report fits the window it is read in: measured in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mscrobot.campaign.loader import load_campaign
from mscrobot.campaign.record import create_campaign, run_campaign
from mscrobot.campaign.report import render

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Written into the page once it has laid out: how wide the document is and the viewport.
MEASURE = (
    "<script>addEventListener('load',()=>{const d=document.documentElement;"
    "document.body.setAttribute('data-width',d.scrollWidth+' '+d.clientWidth)})</script>"
)


def _widths(page: Path, window_px: int) -> tuple[int, int]:
    assert CHROMIUM is not None
    out = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--window-size={window_px},900",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    found = re.search(r'data-width="(\d+) (\d+)"', out)
    assert found, out[-500:]
    return int(found[1]), int(found[2])


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs a chromium binary")
def test_the_campaign_report_fits_a_1400_px_window_and_a_narrow_one(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"name: width\nlab: twin\nresources: {{stir_positions: 2}}\nrecipes:\n"
        f"  - {ROOT / 'recipes' / 'cds34-zncl2-subthreshold.yaml'}\n"
        f"  - {ROOT / 'recipes' / 'cds34-zn-nitrate.yaml'}\n",
        encoding="utf-8",
    )
    loaded = load_campaign(path)
    folder, infos = create_campaign(loaded, tmp_path / "out")
    summary = run_campaign(loaded, folder, infos)
    stalled = summary["runs"][0]
    assert stalled["state"] == "awaiting_operator"
    # the longest unbreakable text a report holds: a stall's resolve command and folder path
    stalled["error"] = (
        f"stalled; answer with `mscrobot runs resolve {folder}/runs/"
        f"{stalled['id']} --step 105 --continue|--extend|--add-salt|--abort`"
    )
    page = tmp_path / "report.html"
    page.write_text(render(summary).replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    for window in (1400, 800):
        document, viewport = _widths(page, window)
        assert document <= viewport, (window, document, viewport)
