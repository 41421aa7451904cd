"""Resume at every crash point of a run on the fake lab (tests/engine/fakelab.py), in process.

Every journal write and every device action has a crash point on each side; the run is crashed
at each in turn (``SimulatedCrash``) and resumed against the same bench. Each resumed run must end
as the unbroken one: the same steps and verdicts, the same spectra, each dose and draw given
once, the same volumes and lab time. With a liquid handler that can say whether an operation
happened, and with one that cannot, where the run waits for the operator, who answers what the
bench shows. A run takes milliseconds, so this covers every point of the engine's resume; the
crash matrix (test_crash_matrix.py) does the same on the twin and simulated labs.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.storage.crashpoints import SimulatedCrash, armed
from tests.engine.crashes import durable_files, durable_state, write_files
from tests.engine.fakelab import Bench, end_state, resume_to_end, run_once

SHM = Path("/dev/shm")


@pytest.fixture
def ram_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory in RAM where there is one: the journal's fsyncs are ~90 % of a fake run on
    disk, and what is checked here is the engine's resume, not the disk's durability."""
    if not (SHM.is_dir() and os.access(SHM, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=SHM, prefix="mscrobot-tests-") as d:
        yield Path(d)


def _unbroken(folder: Path) -> tuple[dict[str, Any], int]:
    folder.mkdir()
    bench = Bench()
    with armed() as points:
        end = run_once(bench, folder)
    assert end.state == "completed" and end.reason == "finished"
    return end_state(folder, bench), points.passed


def _crash(folder: Path, bench: Bench, at: int, knows: bool) -> None:
    """Crash a run (or a resume) at its ``at``-th point, and check that unwinding left bench
    and files as they were at the point, as a kill would."""
    seen: dict[str, Any] = {}

    def snapshot(n: int) -> None:
        if n == at:
            seen.update(bench=bench.snapshot(), files=durable_files(folder))

    with pytest.raises(SimulatedCrash), armed(at=at, on_point=snapshot) as points:
        run_once(bench, folder, knows)
    assert points.after_crash == 0, "unwinding passed a crash point: a write a kill never makes"
    assert bench.snapshot() == seen["bench"]
    scratch = folder.parent
    assert durable_state(durable_files(folder), scratch) == durable_state(seen["files"], scratch)


def _recovered(folder: Path) -> set[str]:
    journal = Journal(folder / JOURNAL_NAME)
    try:
        return {str(s.outcome.get("recovered_by")) for s in journal.steps()
                if s.outcome and "recovered_by" in s.outcome}
    finally:
        journal.close()


@pytest.mark.parametrize("knows", [True, False], ids=["handler-knows", "operator-answers"])
def test_a_run_crashed_at_any_point_resumes_to_the_unbroken_end(ram_dir: Path,
                                                                knows: bool) -> None:
    want, total = _unbroken(ram_dir / "unbroken")
    assert total > 80
    recovered: set[str] = set()
    answers: set[str] = set()
    for at in range(1, total + 1):
        folder = ram_dir / f"at{at}"
        folder.mkdir()
        bench = Bench()
        _crash(folder, bench, at, knows)
        end, given = resume_to_end(bench, folder, knows)
        assert end.state == "completed", (at, end.reason)
        assert end_state(folder, bench) == want, at
        recovered |= _recovered(folder)
        answers |= set(given)
    # the crashes fell between a device acting and the journal hearing of it, both ways
    if knows:
        assert recovered == {"device"} and not answers
    else:
        assert recovered == {"operator"} and answers == {"done", "not-done"}


@pytest.mark.parametrize("first", [0.3, 0.8])
def test_a_resume_crashed_at_any_of_its_points_resumes_again(ram_dir: Path,
                                                             first: float) -> None:
    """A crash while recovering from a crash: the second resume still ends as unbroken."""
    want, total = _unbroken(ram_dir / "unbroken")
    at = max(1, round(first * total))
    crashed = ram_dir / "crashed"
    crashed.mkdir()
    bench = Bench()
    _crash(crashed, bench, at, knows=True)
    files, left = durable_files(crashed), bench.snapshot()
    with armed() as points:  # how many points the resume passes
        write_files(ram_dir / "count", files)
        run_once(Bench(**copy.deepcopy(left)), ram_dir / "count")
    assert points.passed > 2
    for again in range(1, points.passed + 1):
        folder = ram_dir / f"again{again}"
        write_files(folder, files)
        twice = Bench(**copy.deepcopy(left))
        _crash(folder, twice, again, knows=True)
        end, _ = resume_to_end(twice, folder)
        assert end.state == "completed" and end_state(folder, twice) == want, again

