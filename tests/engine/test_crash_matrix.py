"""Crash matrix: SIGKILL a dry run at ≥ 30 points, resume each, compare with an unbroken run.

The kills are real SIGKILLs of a real ``mscrobot run`` process. Most land at crash points
(around every journal commit and every simulated-world action, so also between a device acting
and the journal hearing of it); a few more are sent from outside at random wall times. The
matrix runs on the twin lab (32 points); a sparser one on the default lab, where Opentrons'
engine sits in front of the liquid handling and its operation log adds crash points between
the robot acting and the twin hearing of it (each run there pays ~4 s of Opentrons import).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.engine.runs import REFERENCE, TWIN, cli, end_state, only_run, run_folders

pytestmark = pytest.mark.slow

#: lab → (crash points, kills at random wall times, fewest runs that must be checked)
MATRIX = {TWIN: (32, 4, 30), "simulated": (7, 1, 6)}


@pytest.fixture(scope="module", params=list(MATRIX))
def lab(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def reference(lab: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], int]:
    out = tmp_path_factory.mktemp("reference")
    counter = out / "points"
    proc = cli("run", str(REFERENCE), "--lab", lab, "--out", str(out / "runs"), "--json",
               env={"MSCROBOT_CRASH_COUNT": str(counter)})
    assert proc.returncode == 0, proc.stderr
    return end_state(only_run(out / "runs")), int(counter.read_text())


def _kill_and_resume(lab: str, out: Path, env: dict[str, str] | None,
                     delay: float | None) -> dict:
    runs = out / "runs"
    if delay is None:
        first = cli("run", str(REFERENCE), "--lab", lab, "--out", str(runs), "--json", env=env)
        killed = first.returncode == -signal.SIGKILL
    else:
        proc = subprocess.Popen([sys.executable, "-m", "mscrobot.cli", "run", str(REFERENCE),
                                 "--lab", lab, "--out", str(runs), "--json"],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        killed = proc.wait() == -signal.SIGKILL
    if not run_folders(runs):
        return {"killed": killed, "before_run_folder": True}
    run = only_run(runs)
    second = cli("run", "--resume", run.name, "--out", str(runs), "--json")
    return {"killed": killed, "resume_rc": second.returncode, "stderr": second.stderr,
            "state": end_state(run)}


def test_killed_runs_resume_to_the_same_end_state(
        lab: str, reference: tuple[dict[str, Any], int], tmp_path: Path) -> None:
    ref, total = reference
    n_points, n_timed, must_check = MATRIX[lab]
    assert total > 100
    points = sorted({1 + round(i * (total - 1) / (n_points - 1)) for i in range(n_points)})
    rng = random.Random(7)
    # wall times after the imports (the Opentrons engine's take ~3 s more)
    late = 0.0 if lab == TWIN else 3.5
    jobs: list[tuple[Path, dict[str, str] | None, float | None]] = [
        (tmp_path / f"p{k}", {"MSCROBOT_CRASH_AT": str(k)}, None) for k in points]
    jobs += [(tmp_path / f"t{i}", None, late + rng.uniform(0.8, 2.5)) for i in range(n_timed)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda j: _kill_and_resume(lab, *j), jobs))
    crash_results = results[:len(points)]
    assert all(r["killed"] for r in crash_results), "every crash point must kill the run"
    checked = 0
    for (out, _, _), r in zip(jobs, results, strict=True):
        if r.get("before_run_folder"):
            continue  # killed before the run existed: nothing to resume
        assert r["resume_rc"] == 0, (out, r["stderr"])
        got = r["state"]
        assert got["state"] == "completed", out
        assert got["verdicts"] == ref["verdicts"], out
        assert got["spectra"] == ref["spectra"], out  # no spectrum lost (or doubled)
        assert got["spectra_digest"] == ref["spectra_digest"], out
        # no dose given twice: each dispense op (run id/step) acted once, as many as unbroken
        assert len(got["dispense_ops"]) == len(set(got["dispense_ops"])) == \
            len(ref["dispense_ops"]), out
        assert len(got["sample_ops"]) == len(ref["sample_ops"]), out
        assert got["volumes"] == ref["volumes"], out
        assert got["lab_t"] == ref["lab_t"], out
        assert got["transfer"] == ref["transfer"], out
        checked += 1
    assert checked >= must_check
