"""Crash matrix: a dry run of the reference recipe crashed at a crash point and resumed ends
exactly as an unbroken run (the same verdicts and spectra, each dose given once, the same
volumes, lab time and transfer).

Crash points sit around every journal commit and every simulated-world action, so also between
a device acting and the journal hearing of it. On the ``simulated`` lab Opentrons' engine (in
process) sits in front of the liquid handling and its operation log adds points between the
robot acting and the twin hearing of it. Three layers:

- in process (the default run): a run crashed with ``SimulatedCrash`` at named points of both
  labs (a dose given and not journaled, a robot operation half sent, …), each checked to unwind
  like a kill (nothing written on the way out), then resumed in process;
- every crash point (slow): one reference run per lab copies its run folder at each point where
  its files changed (the files a SIGKILL there leaves), and each copy is resumed in process;
- real processes (slow): ``mscrobot run`` killed with SIGKILL at some of the named points and at
  random wall times, resumed with ``mscrobot run --resume``.

The engine's resume at every journal write, in milliseconds: tests/engine/test_resume_anywhere.py.
"""

from __future__ import annotations

import copy
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mscrobot.spectra.sample
from mscrobot.app.runs import execute, load_run
from mscrobot.lab.config import load_lab
from mscrobot.storage.crashpoints import SimulatedCrash, armed
from tests.engine.crashes import (
    LOGS,
    Point,
    Trace,
    durable_files,
    durable_state,
    point_after,
    write_files,
)
from tests.engine.runs import REFERENCE, TWIN, cli, dry_run, end_state, only_run, run_folders

LABS = (TWIN, "simulated")


@dataclass
class Reference:
    lab: str
    end: dict[str, Any]
    points: list[Point]

    def after(self, log: str, want: Callable[[dict[str, Any]], bool], nth: int = 1) -> int:
        return point_after(self.points, log, want, nth)

    def half_way_through_an_operation(self) -> int:
        """Just after the robot answered the third command of the first liquid operation:
        its log knows, the twin has not heard of the operation."""
        first = self.points[self.after("opentrons.jsonl", lambda e: "planned" in e) - 1]
        op = first.events["opentrons.jsonl"]["op"]
        return self.after("opentrons.jsonl", lambda e: e.get("op") == op and "cmd" in e, nth=3)


def _lab_text(lab: str) -> str:
    return load_lab(lab)[1]


def _reference(lab: str, runs: Path) -> Reference:
    trace = Trace(runs)
    with armed(on_point=trace) as points:
        info, end = dry_run(runs, lab=_lab_text(lab))
    assert end.state == "completed" and points.passed == len(trace.points) > 100
    return Reference(lab, end_state(info.path), trace.points)


@pytest.fixture(scope="module", params=LABS)
def reference(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return _reference(str(request.param), tmp_path_factory.mktemp("reference") / "runs")


def assert_same_end(got: dict[str, Any], want: dict[str, Any], where: object) -> None:
    assert got["state"] == "completed", where
    for key in ("verdicts", "spectra", "spectra_digest", "volumes", "lab_t", "transfer"):
        assert got[key] == want[key], (where, key)  # no spectrum lost or doubled
    # no dose given twice: each dispense op (run id/step) acted once, as many as unbroken
    assert len(got["dispense_ops"]) == len(set(got["dispense_ops"])) == \
        len(want["dispense_ops"]), where
    assert len(got["sample_ops"]) == len(want["sample_ops"]), where


def _resume(run: Path) -> dict[str, Any]:
    end = execute(load_run(run))
    assert end.state == "completed", (run, end.reason)
    return end_state(run)


# --- in process, at named points --------------------------------------------------------------

#: (lab, name) → how to find the point in the reference run's trace
NAMED: dict[tuple[str, str], Callable[[Reference], int]] = {
    (TWIN, "before the run folder exists"): lambda r: 1,
    (TWIN, "the first dose given, not journaled"): lambda r: r.after(
        "world.jsonl", lambda e: e["op"] == "dispense"),
    (TWIN, "a wait over, not journaled"): lambda r: r.after(
        "world.jsonl", lambda e: e["op"] == "advance", nth=3),
    (TWIN, "the OLA dose given, not journaled"): lambda r: r.after(
        "world.jsonl", lambda e: e["op"] == "dispense" and e["source"] == "ola_stock"),
    ("simulated", "the robot half way through an operation"):
        Reference.half_way_through_an_operation,
    ("simulated", "a sample drawn by the robot, not journaled"): lambda r: r.after(
        "world.jsonl", lambda e: e["op"] == "sample" and e["vessel"] == "reaction"),
}


def _named(lab: str) -> list[str]:
    return [name for (at_lab, name) in NAMED if at_lab == lab]


def test_the_named_points_are_where_their_names_say(reference: Reference) -> None:
    """The points are found from what the run wrote; check the finder found what it says."""
    for name in _named(reference.lab):
        n = NAMED[reference.lab, name](reference)
        point = reference.points[n - 1]
        if name.startswith("before"):
            assert point.folder.startswith(".new-")
        else:
            assert not point.folder.startswith(".") and point.changed <= set(LOGS)


def test_a_run_crashed_in_process_at_a_named_point_resumes_to_the_unbroken_end(
        reference: Reference, tmp_path: Path) -> None:
    for name in _named(reference.lab):
        at = NAMED[reference.lab, name](reference)
        runs = tmp_path / f"at{at}"
        runs.mkdir()
        seen: dict[str, Any] = {}

        def snapshot(n: int, runs: Path = runs, at: int = at,
                     seen: dict[str, Any] = seen) -> None:
            if n == at:
                [folder] = runs.iterdir()
                seen.update(folder=folder, files=durable_files(folder))

        with pytest.raises(SimulatedCrash), armed(at=at, on_point=snapshot) as points:
            dry_run(runs, lab=_lab_text(reference.lab))
        # unwound like a kill: no crash point passed on the way out, every file as it was
        assert points.after_crash == 0, name
        assert durable_state(durable_files(seen["folder"])) == durable_state(seen["files"]), name
        if not run_folders(runs):
            assert seen["folder"].name.startswith(".new-"), name  # nothing to resume
            continue
        assert_same_end(_resume(only_run(runs)), reference.end, name)


# --- every crash point ----------------------------------------------------------------------

#: On the simulated lab every third copy is resumed (see the test's docstring).
SIMULATED_STRIDE = 3

def _exactly(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.dtype.str, value.shape, value.tobytes()
    return repr(value)  # floats, the baseline's dataclass, lists of indices: exact


@pytest.fixture
def fits_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Band fits computed once per distinct input. The every-point test resumes one run
    hundreds of times, and each resume fits again the spectra it replays and reads (bit for bit
    the reference run's: the test checks their digest): that is ~2/3 of a resume. A fit is a pure
    function of its arguments, so a cache keyed on their exact bytes returns what fitting again
    would; different input misses and is fitted. Yields the hits and misses."""
    real = mscrobot.spectra.sample.fit_bands
    cache: dict[object, object] = {}
    counts: Counter[str] = Counter()

    def fit_bands(*args: object, **kwargs: object) -> object:
        key = (tuple(_exactly(a) for a in args),
               tuple(sorted((k, _exactly(v)) for k, v in kwargs.items())))
        if key not in cache:
            counts["miss"] += 1
            cache[key] = real(*args, **kwargs)  # type: ignore[arg-type]
        else:
            counts["hit"] += 1
        return copy.deepcopy(cache[key])

    monkeypatch.setattr(mscrobot.spectra.sample, "fit_bands", fit_bands)
    yield counts
    assert counts["hit"] > counts["miss"] > 0, counts  # the analysis still calls fit_bands


@pytest.mark.slow
def test_a_run_killed_at_any_crash_point_resumes_to_the_unbroken_end(
        reference: Reference, tmp_path: Path, fits_once: Counter[str]) -> None:
    """Every point where the files changed, resumed from a copy of them taken there: ~130
    copies on the twin lab, every one; on the simulated lab (~530, the Opentrons operation log
    adds ~400 lines) every third, so CI keeps within its 20 minutes — the twin lab covers every
    journal write, and the named points (the default run) the robot's half-done operations."""
    snapshots: list[tuple[int, Path]] = []
    last: dict[str, bytes] = {}
    runs = tmp_path / "runs"

    def snapshot(n: int) -> None:
        nonlocal last
        [folder] = runs.iterdir()
        if folder.name.startswith("."):
            return  # the run does not exist yet: nothing to resume (a named point above)
        files = durable_files(folder)
        if files != last:
            snapshots.append((n, tmp_path / f"at{n}" / folder.name))
            write_files(snapshots[-1][1], files)
            last = files

    with armed(on_point=snapshot):
        info, _ = dry_run(runs, lab=_lab_text(reference.lab))
    assert_same_end(end_state(info.path), reference.end, "copied")  # a run like the reference
    before_writes = sum(p.folder.startswith(".") for p in reference.points)
    writes = (len(reference.points) - before_writes) // 2
    assert len(snapshots) >= writes  # a copy after each durable write
    stride = 1 if reference.lab == TWIN else SIMULATED_STRIDE
    for i, (n, run) in enumerate(snapshots):
        if i % stride == 0 or i == len(snapshots) - 1:
            assert_same_end(_resume(run), reference.end, n)
        shutil.rmtree(run.parent)  # the simulated lab's copies come to ~400 MB


# --- real processes -------------------------------------------------------------------------

#: named points where `mscrobot run` is killed for real, and kills at random wall times
KILLED = {TWIN: ("the first dose given, not journaled", "the OLA dose given, not journaled"),
          "simulated": ("the robot half way through an operation",)}
TIMED = {TWIN: 2, "simulated": 1}


def _kill_and_resume(lab: str, out: Path, at: int | None, delay: float | None,
                     want: dict[str, Any]) -> str:
    runs = out / "runs"
    args = ("run", str(REFERENCE), "--lab", lab, "--out", str(runs), "--json")
    if delay is None:
        first = cli(*args, env={"MSCROBOT_CRASH_AT": str(at)})
        assert first.returncode == -signal.SIGKILL, (at, first.stderr)
    else:
        proc = subprocess.Popen([sys.executable, "-m", "mscrobot.cli", *args],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        if proc.wait() != -signal.SIGKILL:
            return "ended before the kill"
    if not run_folders(runs):
        return "killed before the run existed"
    run = only_run(runs)
    second = cli("run", "--resume", run.name, "--out", str(runs), "--json")
    assert second.returncode == 0, (out, second.stderr)
    assert_same_end(end_state(run), want, out)
    return "resumed"


@pytest.mark.slow
def test_mscrobot_run_killed_for_real_resumes_to_the_unbroken_end(
        reference: Reference, tmp_path: Path) -> None:
    lab = reference.lab
    counter = tmp_path / "points"
    unbroken = cli("run", str(REFERENCE), "--lab", lab, "--out", str(tmp_path / "unbroken"),
                   "--json", env={"MSCROBOT_CRASH_COUNT": str(counter)})
    assert unbroken.returncode == 0, unbroken.stderr
    # the process passes the points the in-process run did, so a number names the same point
    assert int(counter.read_text()) == len(reference.points)
    assert_same_end(end_state(only_run(tmp_path / "unbroken")), reference.end, "unbroken")
    rng = random.Random(7)
    late = 0.0 if lab == TWIN else 3.5  # after the imports (Opentrons' take ~3 s more)
    jobs = [(tmp_path / f"p{i}", NAMED[lab, name](reference), None)
            for i, name in enumerate(KILLED[lab])]
    jobs += [(tmp_path / f"t{i}", None, late + rng.uniform(0.8, 2.5))
             for i in range(TIMED[lab])]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda j: _kill_and_resume(lab, *j, reference.end), jobs))
    assert done[:len(KILLED[lab])] == ["resumed"] * len(KILLED[lab])
