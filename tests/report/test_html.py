"""The HTML report: self-contained, complete, escaped, and written for runs in any state."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.report.html import write_report
from mscrobot.report.summary import run_summary
from tests.report.conftest import HOSTILE_NAME, Runs

PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _page(run: Path) -> str:
    out = write_report(run)
    assert out == run / "report.html"
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def completed_page(runs: Runs) -> str:
    return _page(runs.completed)


def test_plots_are_embedded_pngs(completed_page: str) -> None:
    images = PNG.findall(completed_page)
    assert len(images) == 3  # spectra, band heights with verdicts, volumes
    for b64 in images:
        assert base64.b64decode(b64).startswith(b"\x89PNG\r\n\x1a\n")


def test_nothing_is_fetched_from_elsewhere(completed_page: str) -> None:
    assert not re.search(r"""(src|href)=["'](?!data:)""", completed_page)
    assert "<script" not in completed_page.lower()
    assert "<link" not in completed_page.lower()


def test_the_decision_trail_has_a_row_per_verdict(runs: Runs, completed_page: str) -> None:
    j = Journal(runs.completed / JOURNAL_NAME)
    try:
        verdicts = j.verdicts()
    finally:
        j.close()
    trail = completed_page.split('<table class="trail">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(\d+)</td><td>[^<]*</td><td>(\w+)</td><td>(\w+)</td>"
                      r"<td>(\w+)</td>", trail)
    assert rows == [(str(v["step"]), v["stage"], v["state"], v["action"]) for v in verdicts]


def test_the_header_has_the_verdicts_and_the_retention_record(completed_page: str) -> None:
    assert "(CdS)34 with ZnCl2 in DMF" in completed_page
    assert "complete → finish" in completed_page
    assert "Zn from ZnCl2: removed" in completed_page
    assert "recipe_version: 1" in completed_page  # the recipe text


def test_the_summary_points_at_the_report(runs: Runs, completed_page: str) -> None:
    assert run_summary(runs.completed)["report"] == str(runs.completed / "report.html")


def test_a_run_with_no_spectra_reports_and_escapes_its_name(runs: Runs) -> None:
    page = _page(runs.fresh)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in page
    assert HOSTILE_NAME not in page
    assert "No spectra recorded yet." in page and "No verdicts yet." in page
    assert not PNG.findall(page)


def test_unfinished_runs_report(runs: Runs) -> None:
    awaiting = _page(runs.awaiting)
    assert "waiting for the operator" in awaiting
    assert "continue | extend | add_salt | abort" in awaiting
    assert len(PNG.findall(awaiting)) == 3
    failed = _page(runs.failed)
    assert "DeviceFaultError" in failed and len(PNG.findall(failed)) == 3
    stopped = _page(runs.stopped)
    assert "stopped by the operator" in stopped and not PNG.findall(stopped)


def test_a_report_is_replaced_not_appended(runs: Runs) -> None:
    first = _page(runs.stopped)
    second = _page(runs.stopped)
    assert first.count("<html") == second.count("<html") == 1
    assert not [p for p in runs.stopped.iterdir() if p.name.endswith(".tmp")]


def test_the_chemists_record_is_in_the_report(runs: Runs, completed_page: str) -> None:
    amounts = completed_page.split("<h2>Amounts</h2>", 1)[1].split("<h2>", 1)[0]
    assert "30 nmol (CdS)34" in amounts and "2500 Zn" in amounts
    assert "102 mg ZnCl2 in 15 mL" in amounts  # the shipped lab's 15 mL salt stock
    assert "flow-cell path</th><td>2 mm" in amounts
    beyond = completed_page.split('<table class="beyond">', 1)[1].split("</table>", 1)[0]
    assert "polar band 2" in beyond and "assumed" in beyond
    assert "the twin's transfer kinetics are assumed" in completed_page
    fitted = re.search(r"polar phase after the exchange</th><td>([\d.]+) nm \(shift "
                       r"(-?[\d.]+) nm\)", completed_page)
    assert fitted, "the fitted polar band and its shift are reported"
    assert float(fitted[1]) == pytest.approx(356.0, abs=0.5)  # the paper's 9 nm blue shift
    assert float(fitted[2]) == pytest.approx(-9.0, abs=0.5)
    awaiting = _page(runs.awaiting)
    assert "5 Zn per cluster is below the ~7.5" in awaiting  # the check's warning travels


def test_a_verdict_on_assumed_chemistry_says_so(tmp_path: Path) -> None:
    from mscrobot.app.runs import create_run, execute
    from mscrobot.lab.config import load_lab
    from mscrobot.recipe import load_recipe

    source = "recipes/cds34-incl3-assumed.yaml"
    lab, lab_text = load_lab("twin")
    info = create_run(load_recipe(source).recipe, Path(source).read_text(), source, lab,
                      lab_text, 0, tmp_path)
    execute(info)
    page = _page(info.path)
    verdict = page.split("forward verdict</th><td>", 1)[1].split("</td>", 1)[0]
    assert verdict.startswith("complete (twin: assumed kinetics; InCl3 transfer assumed)")
