"""The browser view's speed: journal write → page change, a 2000-spectrum run's page load, and
the server's memory with 10 watching browsers.

    uv run python benchmarks/ui.py [--runs 3] [--loads 5] [--json]

Everything real: a ``mscrobot ui`` process, Debian's headless Chromium driven by Playwright, and
twin runs executed by the engine in their own process, slowed to real time (0.1 s after each
engine event, ``tests/ui/paced.py``; the twin's virtual clock would finish a run in 0.5 s).

- ``latency_ms`` (p50, p95; issue 19's target p95 ≤ 250 ms): from the moment a sample spectrum is
  readable in the journal (a reader polling every 2 ms sees the commit) to the moment the run
  page has drawn it (the phase's canvas names it as its latest), for every sample spectrum of
  ``--runs`` reference runs.
- ``load_2000_s`` (target ≤ 1 s): a run page opened on a run with 2000 sample spectra, from
  navigation to both phases' charts drawn, on a fresh server (``cold``: the journal read for the
  first time) and with the server's cache warm (``warm``). The run is a real reference run whose
  journal then gets 1988 more measure steps, copies of its own (spectra, times, parameters), so
  its journal holds what a 4-hour run's would.
- ``rss_mb``: the ``mscrobot ui`` process's resident memory idle, and with 10 pages watching
  that run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.engine.runs import REFERENCE  # noqa: E402
from tests.ui.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    chromium,
    go,
    paced_run,
    ui_server,
)
from tests.ui.runs import completed_run  # noqa: E402

SPECTRA = 2000


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


def latencies(tmp: Path, runs_count: int) -> list[float]:
    runs = tmp / "live"
    runs.mkdir()
    out: list[float] = []
    with ui_server(runs) as (url, _), chromium(tmp) as browser:
        page = browser.new_page()
        for _ in range(runs_count):
            proc, rid = paced_run(runs, REFERENCE, 0.1)
            page.goto(f"{url}/run/{rid}")
            page.wait_for_selector("#conn.ok", timeout=10000)
            journal = runs / rid / "journal.sqlite"
            seen = _latest_sample(journal)
            go(proc)
            while proc.poll() is None:
                now = _latest_sample(journal)
                if now is None or now == seen:
                    time.sleep(0.002)
                    continue
                written = time.perf_counter()
                seen = now
                page.wait_for_function(
                    "([phase, sid]) => Number(document.getElementById('spectra-' + phase)"
                    ".dataset.latest || 0) >= sid",
                    arg=list(now[::-1]),
                    timeout=5000,
                    polling=5,
                )
                out.append(time.perf_counter() - written)
            proc.wait()
    return out


def long_run(runs: Path) -> str:
    """A reference run whose journal is grown to ``SPECTRA`` sample spectra (copies of its
    own measure steps, later in lab time)."""
    info, _ = completed_run(runs)
    con = sqlite3.connect(info.path / "journal.sqlite")
    with con:
        measures = con.execute(
            "select n, kind, params, idempotent, started_t, ended_t, outcome "
            "from steps where kind = 'measure' and status = 'done' "
            "order by n"
        ).fetchall()
        have = con.execute("select count(*) from spectra where role = 'sample'").fetchone()[0]
        n = con.execute("select max(n) from steps").fetchone()[0]
        t = con.execute("select max(ended_t) from steps").fetchone()[0]
        i = 0
        while have < SPECTRA:
            src = measures[i % len(measures)]
            n, t, i, have = n + 1, t + 7.0, i + 1, have + 1
            con.execute(
                "insert into steps (n, kind, params, idempotent, status, started_t, "
                "ended_t, outcome) values (?, ?, ?, ?, 'done', ?, ?, ?)",
                (n, src[1], src[2], src[3], t - 5.0, t, src[6]),
            )
            con.execute(
                "insert into spectra (step, role, phase, integration_ms, scans, "
                "full_scale, axis, counts, meta) select ?, role, phase, integration_ms,"
                " scans, full_scale, axis, counts, meta from spectra where step = ? "
                "and role = 'sample'",
                (n, src[0]),
            )
    con.close()
    return info.id


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def loads(tmp: Path, count: int) -> dict[str, object]:
    """Page loads of the long run, each in a fresh browser context (its own cache and
    connections: one browser holds at most 6 connections to a server, each page's event
    stream takes one, so 10 watchers are 10 contexts, as 10 browsers would be)."""
    from playwright.sync_api import sync_playwright

    runs = tmp / "long"
    runs.mkdir()
    rid = long_run(runs)
    drawn = (
        "() => ['nonpolar', 'polar'].every(p => Number(document.getElementById("
        "'spectra-' + p).dataset.count || 0) > 0)"
    )
    cold: list[float] = []
    warm: list[float] = []
    rss: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

        def open_page(url: str) -> tuple[object, float]:
            context = browser.new_context(viewport={"width": 1280, "height": 1300})
            page = context.new_page()
            t0 = time.perf_counter()
            page.goto(f"{url}/run/{rid}", wait_until="commit")
            page.wait_for_function(drawn, timeout=30000, polling=5)
            return context, time.perf_counter() - t0

        for k in range(count):
            with ui_server(runs) as (url, _):
                for bucket in (cold, warm):
                    context, took = open_page(url)
                    bucket.append(took)
                    context.close()  # type: ignore[attr-defined]
                if k == count - 1:
                    pid = int(
                        next(
                            p
                            for p in Path("/proc").iterdir()
                            if p.name.isdigit() and _is_server(p, runs)
                        ).name
                    )
                    rss["idle"] = _rss_mb(pid)
                    watching = [open_page(url)[0] for _ in range(10)]
                    time.sleep(2)
                    rss["10_pages"] = _rss_mb(pid)
                    for context in watching:
                        context.close()  # type: ignore[attr-defined]
        browser.close()
    return {
        "cold_s": statistics.median(cold),
        "warm_s": statistics.median(warm),
        "cold_all_s": cold,
        "warm_all_s": warm,
        "rss_mb": rss,
    }


def _is_server(proc: Path, runs: Path) -> bool:
    try:
        cmd = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"ui" in cmd and str(runs).encode() in cmd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        lat = sorted(latencies(tmp, args.runs))
        load = loads(tmp, args.loads)
    doc = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "latency_ms": {
            "n": len(lat),
            "p50": 1000 * statistics.median(lat),
            "p95": 1000 * lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))],
            "max": 1000 * lat[-1],
        },
        "load_2000": load,
    }
    print(json.dumps(doc, indent=2) if args.json else doc)


if __name__ == "__main__":
    main()
