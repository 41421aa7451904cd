"""``mscrobot ui`` in a real headless Chromium, against real ``mscrobot ui`` and run processes:
live spectra, a question answered by a click, a stop by a click, the token off the loopback,
recipe text that stays text, and screenshots of each page checked to be non-blank.

Screenshots go to ``$MSCROBOT_UI_SHOTS`` if set, else to the test's temporary folder."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mscrobot.engine.journal import Journal
from tests.engine.runs import REFERENCE, SUBTHRESHOLD
from tests.ui.browser import (
    CHROMIUM,
    ROOT,
    check_screenshot,
    chromium,
    go,
    paced_run,
    ui_server,
)
from tests.ui.runs import SCRIPT_NAME, completed_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium (apt-get install chromium; .ci/run installs it)",
    ),
]


def _shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("MSCROBOT_UI_SHOTS") or tmp_path / "shots")
    where.mkdir(parents=True, exist_ok=True)
    return where


def _shot(page: object, tmp_path: Path, name: str) -> Path:
    path = _shots(tmp_path) / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    check_screenshot(path)
    return path


def _latest_sample(journal: Path) -> tuple[int, str] | None:
    con = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = con.execute(
            "select id, phase from spectra where role = 'sample' order by id desc limit 1"
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        con.close()
    return None if row is None else (int(row[0]), str(row[1]))


def test_the_run_page_draws_each_spectrum_within_a_second_of_its_journal_write(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    with ui_server(runs) as (url, _), chromium(tmp_path) as browser:
        page = browser.new_page()
        page.goto(url + "/")
        proc, rid = paced_run(runs, REFERENCE, 0.1)
        try:
            page.wait_for_selector(f'tr[data-run="{rid}"]', timeout=15000)  # listed live
            _shot(page, tmp_path, "runs-page.png")
            page.goto(f"{url}/run/{rid}")
            page.wait_for_selector("#conn.ok", timeout=15000)
            journal = runs / rid / "journal.sqlite"
            seen = _latest_sample(journal)
            go(proc)
            latencies = []
            deadline = time.monotonic() + 60
            while len(latencies) < 5 and time.monotonic() < deadline:
                now = _latest_sample(journal)
                if now is None or now == seen:
                    time.sleep(0.005)
                    continue
                written = time.monotonic()  # the commit that made it readable, within 5 ms
                seen = now
                sid, phase = now
                page.wait_for_function(
                    "([phase, sid]) => Number(document.getElementById('spectra-' + phase)"
                    ".dataset.latest || 0) >= sid",
                    arg=[phase, sid],
                    timeout=1000,
                )
                latencies.append(time.monotonic() - written)
            assert len(latencies) == 5, "the run wrote fewer spectra than expected"
            assert max(latencies) < 1.0, latencies
            _shot(page, tmp_path, "run-page-live.png")
            assert proc.wait(120) == 0
            page.wait_for_selector("body[data-state=completed]", timeout=15000)
            assert page.text_content("#state") == "completed"
            assert int(page.get_attribute("#fractions", "data-count") or 0) >= 5
            _shot(page, tmp_path, "run-page.png")
        finally:
            proc.kill()
            proc.wait()


def test_a_question_is_answered_by_a_click_and_the_other_browser_sees_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    proc, rid = paced_run(runs, SUBTHRESHOLD, 0.0)
    go(proc)
    assert proc.wait(120) == 0
    with ui_server(runs) as (url, _), chromium(tmp_path) as browser:
        listing = browser.new_page()
        listing.goto(url + "/")
        row = listing.wait_for_selector(f'tr.waiting[data-run="{rid}"]', timeout=15000)
        assert row is not None and "waits for you" in row.inner_text()
        a, b = browser.new_page(), browser.new_page()
        for page in (a, b):
            page.goto(f"{url}/run/{rid}")
            page.wait_for_selector("#question:not([hidden]) button.choice", timeout=15000)
        _shot(a, tmp_path, "run-page-question.png")
        a.fill("#who", "Ana")
        a.click('button[data-choice="abort"]')
        a.wait_for_selector("#message.ok", timeout=15000)
        assert "recorded" in (a.text_content("#message") or "")
        b.wait_for_function(
            "() => document.getElementById('question-answer').textContent"
            ".includes('answered: abort')",
            timeout=2000,
        )
        assert b.is_disabled('button[data-choice="extend"]')
        # a click in the second browser that raced the first is told it lost (409): enabled
        # and clicked in one task, so a live update cannot redraw the button in between (a
        # separate click waited 30 s for a redrawn, disabled button)
        b.evaluate(
            "() => { const button = document.querySelector('button[data-choice=extend]');"
            " button.disabled = false; button.click(); }"
        )
        b.wait_for_selector("#message.bad", timeout=15000)
        assert "answered already (--abort)" in (b.text_content("#message") or "")
        journal = Journal(runs / rid / "journal.sqlite")
        try:
            (answer,) = journal.answers()
            (request,) = journal.requests()
        finally:
            journal.close()
        assert answer["answer"] == "abort" and request["who"] == "Ana at 127.0.0.1"
        # the run (whose process exited: no view was attached when it asked) goes on from it
        resumed = subprocess.run(
            [
                sys.executable,
                "-m",
                "mscrobot.cli",
                "run",
                "--resume",
                rid,
                "--out",
                str(runs),
                "--json",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert '"state": "completed"' in resumed.stdout, resumed.stderr
        a.wait_for_selector("body[data-state=completed]", timeout=15000)
        a.wait_for_selector("#requests tbody tr", timeout=15000)
        assert "Ana at 127.0.0.1" in (a.text_content("#requests") or "")


def test_a_stop_click_stops_the_run_safely(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    with ui_server(runs) as (url, _), chromium(tmp_path) as browser:
        proc, rid = paced_run(runs, REFERENCE, 0.1)
        try:
            page = browser.new_page()
            page.goto(f"{url}/run/{rid}")
            page.wait_for_selector("#conn.ok", timeout=15000)
            go(proc)
            page.wait_for_selector("#stop:not([hidden])", timeout=15000)
            page.fill("#who", "Bo")
            clicked = time.monotonic()
            page.click("#stop")
            page.wait_for_selector("body[data-state=stopped]", timeout=15000)
            stopped_after = time.monotonic() - clicked
            assert proc.wait(30) == 0
            assert page.is_hidden("#stop")  # nothing executes it any more
            _shot(page, tmp_path, "run-page-stopped.png")
        finally:
            proc.kill()
            proc.wait()
    journal = Journal(runs / rid / "journal.sqlite")
    try:
        state, reason = journal.state()  # type: ignore[misc]
        steps = journal.steps()
    finally:
        journal.close()
    assert state == "stopped" and "from the browser by Bo at 127.0.0.1" in reason
    assert stopped_after < 2.0
    assert steps[-1].status == "done"  # stopped at a step boundary, nothing half-done


def test_off_the_loopback_the_token_is_required(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    completed_run(runs)
    with ui_server(runs, host="0.0.0.0") as (url, banner), chromium(tmp_path) as browser:
        found = re.search(r"\?token=(\S+)", banner)
        assert found, banner
        page = browser.new_page()
        response = page.goto(url + "/")
        assert response is not None and response.status == 401
        assert page.query_selector("#runs") is None
        response = page.goto(f"{url}/?token={found.group(1)}")
        assert response is not None and response.status == 200
        assert "token" not in page.url  # kept in a cookie, out of the address bar
        page.wait_for_selector("#runs tbody tr", timeout=15000)
        _shot(page, tmp_path, "runs-page-token.png")


def test_recipe_text_stays_text(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    info, _ = completed_run(runs, name=SCRIPT_NAME)
    with ui_server(runs) as (url, _), chromium(tmp_path) as browser:
        page = browser.new_page()
        page.goto(url + "/")
        cell = page.wait_for_selector(f'tr[data-run="{info.id}"] td:nth-child(4)', timeout=15000)
        assert cell is not None and cell.inner_text() == SCRIPT_NAME
        page.goto(f"{url}/run/{info.id}")
        page.wait_for_selector("#conn.ok", timeout=15000)
        page.wait_for_function("() => document.getElementById('recipe').textContent.length")
        assert page.text_content("#recipe") == SCRIPT_NAME
        assert page.evaluate("() => window.pwned") is None
        assert (
            page.query_selector("main img") is None and page.query_selector("main script") is None
        )


def test_with_the_ui_open_the_run_waits_and_a_click_lets_it_finish_by_itself(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    with ui_server(runs) as (url, _), chromium(tmp_path) as browser:
        proc, rid = paced_run(runs, SUBTHRESHOLD, 0.0)
        try:
            page = browser.new_page()
            page.goto(f"{url}/run/{rid}")
            page.wait_for_selector("#conn.ok", timeout=15000)
            go(proc)
            page.wait_for_selector("#question:not([hidden]) button.choice", timeout=60000)
            assert page.text_content("#live") == "executing now"  # waiting, not exited
            assert proc.poll() is None
            page.click('button[data-choice="abort"]')
            page.wait_for_selector("body[data-state=completed]", timeout=10000)
            assert proc.wait(30) == 0  # it ended by itself: no `run --resume`
            assert "abort" in (page.text_content("#reason") or "")
            _shot(page, tmp_path, "run-page-answered.png")
        finally:
            proc.kill()
            proc.wait()


def test_the_recipe_editor_shows_a_mistake_at_its_line_as_you_type(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    with ui_server(runs) as (url, _), chromium(tmp_path) as browser:
        page = browser.new_page()
        page.goto(url + "/recipe")
        page.wait_for_selector("body[data-valid=true]", timeout=10000)
        text = page.input_value("#text")
        bad = text.replace("concentration: 20 uM", "concentration: 20 kg", 1)
        line = next(i for i, s in enumerate(bad.splitlines(), 1) if "20 kg" in s)
        page.fill("#text", bad)
        item = page.wait_for_selector(f'#problems li.error[data-line="{line}"]', timeout=15000)
        assert item is not None and "'20 kg' is a mass" in item.inner_text()
        assert page.query_selector(f'#gutter div.mark.error[data-line="{line}"]') is not None
        assert page.get_attribute("body", "data-valid") == "false"
        _shot(page, tmp_path, "recipe-editor.png")
        page.fill("#text", text)
        page.wait_for_selector("body[data-valid=true]", timeout=15000)


def test_two_runs_compared(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    first, _ = completed_run(runs)
    second, _ = completed_run(runs, name="(CdS)34 again")
    with ui_server(runs) as (url, _), chromium(tmp_path) as browser:
        page = browser.new_page()
        page.goto(url + "/")
        for info in (first, second):
            page.check(f'tr[data-run="{info.id}"] input.choose', timeout=15000)
        page.click("#compare")
        page.wait_for_selector("#diffs pre", timeout=15000)
        assert page.get_attribute("#spectra-nonpolar", "data-count") == "2"
        assert page.get_attribute("#fractions", "data-count") == "2"
        assert "+name: '(CdS)34 again'" in (page.text_content("#diffs") or "")
        _shot(page, tmp_path, "compare-page.png")


def test_a_campaign_page_shows_its_gantt_runs_and_stock_sheet(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    campaign = tmp_path / "screen.yaml"
    campaign.write_text(
        "campaign_version: 1\nname: two salts\nresources:\n  stir_positions: 2\ngrid:\n"
        f"  base: {REFERENCE}\n  vary:\n    salt.compound: [ZnCl2, Zn(OTf)2]\n",
        encoding="utf-8",
    )
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "mscrobot.cli",
            "campaign",
            str(campaign),
            "--lab",
            "twin",
            "--out",
            str(runs),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    with ui_server(runs) as (url, _), chromium(tmp_path) as browser:
        page = browser.new_page()
        page.goto(url + "/")
        page.click(f'tr[data-campaign="{folder.name}"] a', timeout=15000)
        page.wait_for_selector("#runs tbody tr", timeout=15000)
        assert page.text_content("#name") == "two salts"
        assert len(page.query_selector_all("#runs tbody tr")) == 2
        assert int(page.get_attribute("#gantt", "data-count") or 0) > 10
        assert "ZnCl2" in (page.text_content("#stocks") or "")
        _shot(page, tmp_path, "campaign-page.png")
        page.click("#runs tbody tr:first-child a")  # a campaign's run opens its own page
        page.wait_for_selector("body[data-state=completed]", timeout=15000)
        assert int(page.get_attribute("#spectra-polar", "data-count") or 0) > 0


def test_a_run_killed_while_watched_shows_as_interrupted(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    with ui_server(runs) as (url, _), chromium(tmp_path) as browser:
        proc, rid = paced_run(runs, REFERENCE, 0.1)
        try:
            page = browser.new_page()
            page.goto(f"{url}/run/{rid}")
            page.wait_for_selector("#conn.ok", timeout=15000)
            go(proc)
            page.wait_for_selector("body[data-state=running]", timeout=10000)
            page.wait_for_function(
                "() => Number(document.getElementById('spectra-nonpolar').dataset.count) > 0",
                timeout=30000,
            )
            proc.kill()  # SIGKILL: no last journal write, only the lock goes
            proc.wait()
            killed = time.monotonic()
            page.wait_for_selector("body[data-state=interrupted]", timeout=15000)
            assert time.monotonic() - killed < 2.0
            assert page.is_hidden("#stop")
        finally:
            proc.kill()
            proc.wait()
