"""A wait in real time ends within a second of a stop request, and a resume waits out the rest
of it to its journaled deadline."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from mscrobot.engine.journal import Journal
from mscrobot.engine.runner import Engine
from mscrobot.engine.states import RunState
from mscrobot.lab.clock import WallClock
from mscrobot.lab.protocols import Lab
from mscrobot.procedure.plan import PlannedStep, PlanResult
from mscrobot.procedure.steps import Wait

WAIT_S = 3.0


class _Idle:
    """Devices the wait never touches (the engine stops the stirrer when it stops)."""

    def set_speed(self, rpm: float) -> float:
        return rpm

    def speed(self) -> float:
        return 0.0


class _OneWait:
    def steps(self):  # type: ignore[no-untyped-def]
        yield PlannedStep(Wait(WAIT_S, "stirring"))
        return PlanResult("finished")


def _lab(tmp_path: Path) -> Lab:
    return Lab("wall", WallClock(tmp_path / "clock.jsonl"), None, _Idle(), None)  # type: ignore[arg-type]


def test_a_stop_ends_a_real_time_wait_within_a_second_and_the_resume_keeps_its_deadline(
        tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    lab = _lab(tmp_path)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    end = Engine(journal, lab, _OneWait(), "r", stop_requested=stop).run()
    stopped_after = time.monotonic() - started
    assert end.state == RunState.STOPPED
    assert stopped_after < 1.3  # 0.3 s to the request, then at most one 0.5 s piece
    rec = journal.step(1)
    assert rec is not None and rec.status == "intent"
    assert rec.deadline_t is not None and rec.started_t is not None
    assert abs(rec.deadline_t - rec.started_t - WAIT_S) < 0.01
    lab.close()
    lab = _lab(tmp_path)  # a new process: the clock goes on from the run's first start
    end = Engine(journal, lab, _OneWait(), "r").run()
    assert end.state == RunState.COMPLETED
    assert abs(time.monotonic() - started - WAIT_S) < 0.6  # the deadline, not a fresh 3 s
    lab.close()
    journal.close()


def test_sigterm_and_sighup_stop_safely_as_ctrl_c_does() -> None:
    import os
    import signal

    from mscrobot.cli.live import stop_on_ctrl_c

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        before = signal.getsignal(signum)
        with stop_on_ctrl_c("stopping") as stop:
            os.kill(os.getpid(), signum)
            assert stop.wait(1.0), signal.Signals(signum).name
        assert signal.getsignal(signum) == before  # given back
