"""Safe stops and real time against ``mscrobot emulate`` processes over real TCP/HTTP: a stir's
length by the stirrer emulator's own log (and a stop mid-stir: the motor told off within a
second, at rest as the device's ramp allows), SIGTERM, SIGHUP and SIGINT at random points of an
emulated run (the motor at rest within 2 s, no tip on a pipette by the robot's own sensing,
the journal intact, the resumes ending as an unbroken run decides), and a robot restarted
during a dispense ending in an operator question."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mscrobot.engine.journal import Journal
from mscrobot.engine.runner import Engine
from mscrobot.engine.states import RunState
from mscrobot.lab.clock import WallClock
from mscrobot.lab.config import lab_from_text
from mscrobot.lab.protocols import Lab
from mscrobot.procedure.plan import PlannedStep, PlanResult
from mscrobot.procedure.steps import Stir, StopStir, Wait
from tests.engine.runs import REFERENCE, dry_run, only_run, run_folders

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
#: hardware/labs/emulated.yaml on a Flex, whose pipettes sense their tips (GET /instruments)
FLEX_EDITS = {
    "robot_type: OT-2 ": "robot_type: Flex ",
    '{name: p1000_single_gen2, tip_slots: ["10"]}': '{name: p1000_single_flex, tip_slots: ["A1"]}',
    '{name: p300_single_gen2, tip_slots: ["11", "8", "7"]}':
        '{name: p50_single_flex, tip_slots: ["A2", "B1", "B2"]}',
    'slot: "1"': 'slot: "D1"', 'slot: "2"': 'slot: "D2"', 'slot: "5"': 'slot: "C2"',
    'slot: "9"': 'slot: "C1"',
}


def _start(log: Path, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """``mscrobot emulate ARGS`` with its stderr in ``log``; the addresses it prints."""
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "mscrobot.cli", "emulate", *args],
                                stdout=subprocess.PIPE, stderr=err, text=True)
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip()]
    if "--physics" in args:
        lines.append(proc.stdout.readline().strip().removeprefix("physics "))
    if "--shutter" in args:
        lines.append(proc.stdout.readline().strip().removeprefix("shutter "))
    return proc, lines


def _motor(log: Path) -> list[tuple[str, float]]:
    """The stirrer emulator's own log of its motor: (state, wall time)."""
    out = []
    for line in log.read_text().splitlines():
        if line.startswith("motor "):
            fields = dict(f.split("=", 1) for f in line.split()[2:])
            out.append((line.split()[1], float(fields["wall"])))
    return out


# --- a stir in real time ---------------------------------------------------------------------

STIR_S = 15.0


class _OneStir:
    def steps(self):  # type: ignore[no-untyped-def]
        yield PlannedStep(Stir(1000.0))
        yield PlannedStep(Wait(STIR_S, "stirring"))
        yield PlannedStep(StopStir())
        return PlanResult("finished")


def test_a_stir_lasts_its_planned_length_by_the_stirrer_emulators_own_log(
        tmp_path: Path) -> None:
    from mscrobot.lab.stirrer.ika import open_stirrer

    log = tmp_path / "stirrer.log"
    proc, (address,) = _start(log, "stirrer", "--tcp", "0")  # real speed: --speed 1
    try:
        stirrer = open_stirrer(f"socket://{address}", "ika-rct-basic")
        lab = Lab("wall", WallClock(tmp_path / "clock.jsonl"), None, stirrer,  # type: ignore[arg-type]
                  None)  # type: ignore[arg-type]
        journal = Journal(tmp_path / "journal.sqlite")
        try:
            end = Engine(journal, lab, _OneStir(), "stir").run()
            wait = journal.step(2)
            # and stopped 3 s into the next stir: the motor off within a second of the request
            again = Journal(tmp_path / "again.sqlite")
            stop, asked_at = threading.Event(), []

            def request() -> None:
                asked_at.append(time.time())
                stop.set()

            threading.Timer(3.0, request).start()
            lab.clock = WallClock(tmp_path / "again.jsonl")
            stopped = Engine(again, lab, _OneStir(), "again", stop_requested=stop).run()
            again.close()
        finally:
            stirrer.close()
            journal.close()
    finally:
        proc.terminate()
        proc.wait()
    assert stopped.state == RunState.STOPPED, stopped.reason
    asked = asked_at[0]
    last = _motor(log)[-2:]
    assert [s for s, _ in last] == ["off", "rest"], last
    assert 0.0 <= last[0][1] - asked <= 1.0, last[0][1] - asked  # STOP_4 sent
    # at rest when the device's ramp allows: 1000 rpm at its 500 rpm/s (assumed profile)
    assert abs((last[1][1] - last[0][1]) - 1000.0 / 500.0) < 0.4, last
    print(f"motor off {last[0][1] - asked:.3f} s after the stop request, at rest "
          f"{last[1][1] - asked:.3f} s after it")
    assert end.state == RunState.COMPLETED, end.reason
    motor = _motor(log)
    states = [s for s, _ in motor]
    assert states[:4] == ["on", "at-speed", "off", "rest"], motor
    stirred = motor[2][1] - motor[1][1]  # at its speed until switched off, by the device
    print(f"stirred {stirred:.3f} s at speed for a planned {STIR_S:g} s")
    assert abs(stirred - STIR_S) <= 0.02 * STIR_S, stirred
    assert wait is not None and wait.ended_t is not None and wait.started_t is not None
    assert abs((wait.ended_t - wait.started_t) - STIR_S) < 0.1  # the journal's real seconds


# --- signals at random points of an emulated run --------------------------------------------

@dataclass
class Emulated:
    lab: Path
    robot: str
    stirrer_log: Path


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[Emulated]:
    """The three emulators as processes, and emulated.yaml (on a Flex) pointing at them."""
    text = (ROOT / "hardware/labs/emulated.yaml").read_text()
    speed = f"{lab_from_text(text).speedup:g}"  # every emulator at the lab's one speed
    robot, (robot_at,) = _start(tmp_path / "robot.log", "opentrons", "--port", "0",
                                "--robot", "Flex")
    stirrer, (stirrer_at,) = _start(tmp_path / "stirrer.log", "stirrer", "--tcp", "0",
                                    "--speed", speed)
    spectro, (spectro_at, physics_at, shutter_at) = _start(
        tmp_path / "spectrometer.log", "spectrometer", "--tcp", "0", "--physics", "0",
        "--shutter", "0", "--speed", speed)
    for old, new in {**FLEX_EDITS, "http://127.0.0.1:31950": f"http://{robot_at}",
                     "socket://127.0.0.1:4001": f"socket://{stirrer_at}",
                     "address: 127.0.0.1:4002": f"address: {spectro_at}",
                     "physics: 127.0.0.1:4003": f"physics: {physics_at}",
                     "rfc2217://127.0.0.1:4004": shutter_at}.items():
        assert old in text, old
        text = text.replace(old, new)
    lab = tmp_path / "lab.yaml"
    lab.write_text(text)
    try:
        yield Emulated(lab, f"http://{robot_at}", tmp_path / "stirrer.log")
    finally:
        for proc in (robot, stirrer, spectro):
            proc.kill()
            proc.wait()


def _done_steps(journal: Path) -> int:
    try:
        db = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return int(db.execute("select count(*) from steps where status = 'done'")
                       .fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def _tips_detected(robot: str) -> dict[str, bool]:
    """What the robot's pipettes sense (a Flex reports ``tipDetected``)."""
    answer = httpx.get(f"{robot}/instruments", headers={"Opentrons-Version": "4"}).json()
    return {i["mount"]: i["state"]["tipDetected"] for i in answer["data"]
            if i["instrumentType"] == "pipette"}


def journal_open(run: Path) -> str:
    """The step the run stopped in (its kind), or 'between steps'."""
    journal = Journal(run / "journal.sqlite")
    try:
        open_steps = [s for s in journal.steps() if s.status != "done"]
    finally:
        journal.close()
    return f"{open_steps[0].n} {open_steps[0].kind}" if open_steps else "between steps"


def _journal_intact(run: Path) -> dict[str, Any]:
    db = sqlite3.connect(run / "journal.sqlite")
    try:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
    journal = Journal(run / "journal.sqlite")
    try:
        steps, state = journal.steps(), journal.state()
        open_steps = [s.n for s in steps if s.status != "done"]
        assert len(open_steps) <= 1 and all(s.n < open_steps[0] for s in steps
                                            if s.status == "done" and open_steps), open_steps
        return {"state": state, "done": sum(s.status == "done" for s in steps),
                "stops": journal.safe_stops()}
    finally:
        journal.close()


def test_signals_at_random_points_stop_safely_and_the_resumes_end_as_an_unbroken_run(
        tmp_path: Path, emulated: Emulated) -> None:
    seed = int(os.environ.get("MSCROBOT_SIGNAL_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    out = tmp_path / "runs"
    run: Path | None = None
    done = 0
    seen: list[tuple[str, str, str, float | None]] = []
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        name = f"{signal.Signals(signum).name} (seed {seed})"
        args = (["--resume", run.name] if run is not None
                else [str(REFERENCE), "--lab", str(emulated.lab)])
        proc = subprocess.Popen([sys.executable, "-m", "mscrobot.cli", "run", *args,
                                 "--out", str(out), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        target = done + rng.randint(1, 20)  # a random step, then a random moment in it
        deadline = time.monotonic() + 120
        while (run is None or _done_steps(run / "journal.sqlite") < target) \
                and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
            if run is None and run_folders(out):
                run = only_run(out)
        time.sleep(rng.uniform(0.0, 0.5))
        assert proc.poll() is None, f"{name}: the run ended before the signal"
        sent = time.time()
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=120)
        assert run is not None
        doc = json.loads(stdout)
        assert proc.returncode == 1 and doc["state"] == "stopped", (name, stderr[-2000:])
        assert "Traceback" not in stderr, name
        # the stirrer at rest within 2 s, by its own log (or at rest already: it starts so)
        motor = _motor(emulated.stirrer_log)
        before = ["rest"] + [s for s, t in motor if t <= sent]
        after = [t for s, t in motor if t > sent and s == "rest"]
        assert before[-1] == "rest" or (after and after[0] - sent <= 2.0), \
            (name, motor[-4:], sent)
        seen.append((name, journal_open(run), before[-1],
                     round(after[0] - sent, 3) if after else None))
        assert _tips_detected(emulated.robot) == {"left": False, "right": False}, name
        journal = _journal_intact(run)
        assert journal["state"][0] == "stopped", name
        last = journal["stops"][-5:]
        assert [s["action"] for s in last] == ["stop the stirrer", "stop the robot's motion",
                                               "empty the tips", "drop the tips",
                                               "home the robot"], name
        assert all(s["ok"] for s in last), (name, last)
        assert journal["done"] >= done, name
        done = journal["done"]
    print("signal, step open, motor at the signal, s to rest:", *seen, sep="\n  ")
    assert run is not None
    final = subprocess.run([sys.executable, "-m", "mscrobot.cli", "run", "--resume", run.name,
                            "--out", str(out), "--json"],
                           capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    doc = json.loads(final.stdout)
    assert doc["state"] == "completed", doc
    # as the simulated lab decides for the same recipe and seed, with each dose given once
    info, unbroken = dry_run(tmp_path / "simulated")
    assert unbroken.state == RunState.COMPLETED
    assert _decisions(run) == _decisions(info.path)
    assert _tips_detected(emulated.robot) == {"left": False, "right": False}


def _decisions(run: Path) -> tuple[dict[str, tuple[str, str]], list[tuple[str, ...]]]:
    """A run's last verdict of each stage, and its doses in order (each given once: what,
    from where, to where). Not sample for sample: on the wall clock the robot's real time
    (x the lab's speedup) shifts the samples, so an exchange may be judged in progress once
    more than on the simulated lab (it was, in each of 4 reference runs on the emulated lab),
    and the volumes drawn since then change the blank's."""
    journal = Journal(run / "journal.sqlite")
    try:
        last = {v["stage"]: (v["state"], v["action"]) for v in journal.verdicts()}
        return last, [(s.params["liquid"], s.params["source"], s.params["dest"])
                      for s in journal.steps() if s.kind == "dispense"]
    finally:
        journal.close()


# --- a robot restarted during a dispense -----------------------------------------------------

def _dispensing(run: Path) -> int | None:
    """The dispense step in flight with its aspirate answered (the robot's ids of its
    pickUpTip and aspirate in the operation log): liquid has left its stock."""
    try:
        db = sqlite3.connect(f"{(run / 'journal.sqlite').resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = db.execute("select n from steps where kind = 'dispense' and status = 'intent'"
                             ).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    if row is None:
        return None
    op = f"{run.name}/{row[0]}"
    lines = [json.loads(x) for x in (run / "opentrons.jsonl").read_text().splitlines()
             if x.endswith("}")]
    sent = [e for e in lines if e.get("op") == op and "cmd" in e]
    return int(row[0]) if len(sent) >= 2 else None


def test_a_robot_restarted_during_a_dispense_ends_in_an_operator_question(
        tmp_path: Path) -> None:
    lab_text = (ROOT / "hardware/labs/opentrons-emulated.yaml").read_text()
    robot, (address,) = _start(tmp_path / "robot.log", "opentrons", "--port", "0")
    port = address.rsplit(":", 1)[1]
    lab = tmp_path / "lab.yaml"
    lab.write_text(lab_text.replace("http://127.0.0.1:31950", f"http://{address}"))
    out = tmp_path / "runs"
    restarted: subprocess.Popen[str] | None = None
    try:
        run = subprocess.Popen([sys.executable, "-m", "mscrobot.cli", "run", str(REFERENCE),
                                "--lab", str(lab), "--out", str(out), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        step, deadline = None, time.monotonic() + 120
        while step is None and run.poll() is None and time.monotonic() < deadline:
            folders = [p for p in out.iterdir() if not p.name.startswith(".")] \
                if out.is_dir() else []
            step = _dispensing(folders[0]) if folders else None
            time.sleep(0.005)
        assert step is not None and run.poll() is None, "no dispense seen in flight"
        robot.kill()  # the robot restarts while the dispense is in flight (its 11 other
        robot.wait()  # commands take far longer than the 5 ms this loop looks every)
        restarted, _ = _start(tmp_path / "robot2.log", "opentrons", "--port", port)
        stdout, stderr = run.communicate(timeout=120)
        assert run.returncode == 1 and json.loads(stdout)["state"] == "failed", stderr[-2000:]
        resumed = subprocess.run([sys.executable, "-m", "mscrobot.cli", "run", "--resume",
                                  only_run(out).name, "--out", str(out), "--json"],
                                 capture_output=True, text=True, timeout=120)
        doc = json.loads(resumed.stdout)
        assert resumed.returncode == 1 and doc["state"] == "awaiting_operator", resumed.stderr
        assert doc["pending"]["step"] == step
        assert "cannot say whether it happened" in doc["pending"]["question"]
        # nothing of the dispense went to the new robot: the twin did not answer for it
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}",
                           headers={"Opentrons-Version": "4"})
        sent = [c["commandType"] for r in api.get("/runs").json()["data"]
                for c in api.get(f"/runs/{r['id']}/commands",
                                 params={"cursor": "0", "pageLength": "500"}).json()["data"]]
        api.close()
        assert "aspirate" not in sent and "dispense" not in sent, sent
        journal = Journal(only_run(out) / "journal.sqlite")
        try:
            rec = journal.step(step)
            assert rec is not None and rec.kind == "dispense" and rec.status == "intent"
            assert journal.step(step + 1) is None
        finally:
            journal.close()
    finally:
        for proc in (robot, restarted):
            if proc is not None:
                proc.kill()
                proc.wait()
