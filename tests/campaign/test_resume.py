"""``mscrobot campaign --resume``: a killed or stopped campaign goes on and loses nothing.

Real processes and real files: ``mscrobot campaign`` is killed with SIGKILL (or sent SIGINT, a
Ctrl-C) at its N-th crash point (``mscrobot/storage/crashpoints.py``); the campaign's run
threads move one at a time, so the N-th durable write is the same one on every machine and the
kill lands at the same place however slow the machine is. Then ``--resume`` must finish every
run: runs that had ended are not run again, the others replay their journals and go on, and
each run's verdicts are the ones its recipe gives alone with its seed.
"""

from __future__ import annotations

import fcntl
import functools
import json
import shlex
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mscrobot.app.runs import load_run
from mscrobot.campaign.gating import Reentry
from mscrobot.campaign.jobs import RunOutcome, run_alone
from mscrobot.campaign.loader import load_campaign
from mscrobot.campaign.record import SUMMARY_NAME, create_campaign, run_campaign
from mscrobot.campaign.resources import SPECTROMETER
from mscrobot.campaign.resume import load_resume
from mscrobot.campaign.scheduler import Scheduler
from mscrobot.cli import app
from mscrobot.engine.events import Event, EventKind
from mscrobot.lab.config import load_lab
from mscrobot.recipe.loader import dump_recipe, load_recipe_text
from tests.engine.runs import REFERENCE, TWIN, cli

CAMPAIGN = f"""name: resume me
resources: {{stir_positions: 2}}
seed: 4
grid:
  base: {REFERENCE}
  vary:
    salt.compound: [ZnCl2, Zn(OTf)2, Zn(OAc)2]
"""


def _campaign_file(tmp: Path) -> Path:
    path = tmp / "c.yaml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    return path


def _start(tmp: Path, out: Path, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return cli("campaign", str(_campaign_file(tmp)), "--lab", TWIN, "--out", str(out),
               "--json", env=env, cwd=tmp)


def _folder(out: Path) -> Path:
    [folder] = [p for p in out.iterdir() if not p.name.startswith(".")]
    return folder


def _journal(run: Path) -> dict[str, Any]:
    db = sqlite3.connect(run / "journal.sqlite")
    try:
        steps = db.execute("select n, kind, status from steps order by n").fetchall()
        states = [s for (s,) in db.execute("select state from states order by seq")]
    finally:
        db.close()
    return {"steps": steps, "states": states}


@functools.cache
def _alone(recipe_text: str, seed: int) -> RunOutcome:
    """The run's recipe and seed alone (each grid point once, however many tests ask)."""
    return run_alone(load_recipe_text(recipe_text, "run").recipe, seed, load_lab(TWIN)[0])


def _check_whole(folder: Path, summary: dict[str, Any]) -> None:
    """Every run completed, each step once, each dose once, and the verdicts of the run alone."""
    assert summary["unfinished"] == []
    for r in summary["runs"]:
        run = folder / "runs" / r["id"]
        assert r["state"] == "completed", r
        j = _journal(run)
        assert [n for n, _, _ in j["steps"]] == list(range(1, len(j["steps"]) + 1))
        assert {status for _, _, status in j["steps"]} == {"done"}
        events = [json.loads(line) for line in (run / "world.jsonl").read_text().splitlines()]
        doses = [e["id"] for e in events if e["op"] == "dispense"]
        assert sorted(doses) == sorted(f"{r['id']}/{n}" for n, kind, _ in j["steps"]
                                       if kind == "dispense"), "a dose lost or given twice"
        info = load_run(run)
        alone = _alone(dump_recipe(info.recipe), info.seed)
        assert [(v["stage"], v["state"]) for v in r["verdicts"]] == [
            (v["stage"], v["state"]) for v in alone.verdicts]
        assert (r["forward"], r["back"]) == (alone.forward, alone.back) == ("complete",
                                                                            "complete")


@pytest.fixture(scope="module")
def points(tmp_path_factory: pytest.TempPathFactory) -> int:
    """How many crash points an unbroken campaign passes."""
    tmp = tmp_path_factory.mktemp("unbroken")
    proc = _start(tmp, tmp / "out", {"MSCROBOT_CRASH_COUNT": str(tmp / "points")})
    assert proc.returncode == 0, proc.stderr
    return int((tmp / "points").read_text())


@pytest.mark.slow
def test_a_killed_campaign_resumes_and_every_run_is_its_own_alone(points: int,
                                                                   tmp_path: Path) -> None:
    ended_before, unfinished_before = set(), set()
    for fraction in (0.4, 0.75):
        tmp = tmp_path / f"at{fraction}"
        tmp.mkdir()
        out = tmp / "out"
        killed = _start(tmp, out, {"MSCROBOT_CRASH_AT": str(int(points * fraction))})
        assert killed.returncode == -9, killed.stderr
        folder = _folder(out)
        record = json.loads((folder / SUMMARY_NAME).read_text())
        before = {r["index"]: _journal(folder / "runs" / r["id"]) for r in record["runs"]}
        ended = {k for k, j in before.items() if j["states"][-1] == "completed"}
        ended_before |= {(fraction, k) for k in ended}
        unfinished_before |= {(fraction, k) for k in before if k not in ended}
        resumed = cli("campaign", "--resume", folder.name, "--out", str(out), "--json", cwd=tmp)
        assert resumed.returncode == 0, resumed.stderr
        summary = json.loads(resumed.stdout)
        assert summary["segment"] == 1 and summary["resume"] is None
        assert json.loads((folder / SUMMARY_NAME).read_text())["runs"] == summary["runs"]
        _check_whole(folder, summary)
        for r in summary["runs"]:
            after = _journal(folder / "runs" / r["id"])
            if r["index"] in ended:  # not run again: its journal is as the kill left it
                assert after == before[r["index"]] and r["resumed_lab_t"] is None
            else:  # the journaled steps replayed: the journal only grew after them
                assert after["steps"][:len(before[r["index"]]["steps"])] == [
                    (n, kind, "done") for n, kind, _ in before[r["index"]]["steps"]]
                assert r["segment"] == 1
    assert ended_before and unfinished_before, "the kills must leave ended and unfinished runs"


@pytest.mark.slow
def test_ctrl_c_names_the_resume_command_and_the_resume_finishes(points: int,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "out"
    stopped = _start(tmp_path, out, {"MSCROBOT_CRASH_AT": str(points // 2),
                                     "MSCROBOT_CRASH_SIGNAL": "INT"})
    assert stopped.returncode == 1, stopped.stderr
    folder = _folder(out)
    command = f"mscrobot campaign --resume {folder.name} --out {out}"
    assert f"go on later with `{command}`" in stopped.stderr
    summary = json.loads(stopped.stdout)
    assert summary["resume"] == command and summary["unfinished"]
    assert {r["state"] for r in summary["runs"]} <= {"stopped", "completed"}
    resumed = cli(*shlex.split(command)[1:], "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    _check_whole(folder, json.loads(resumed.stdout))


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["campaign", *args])


def test_bad_resumes_are_one_line_and_exit_2(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    file = _campaign_file(tmp_path)
    folder, _ = create_campaign(load_campaign(file, TWIN), tmp_path / "out")
    cases = {
        ("--resume", "nope", "--out", "out"): "no campaign 'nope' in out/",
        (str(file), "--resume", folder.name): "not both",
        ("--resume", folder.name, "--out", "out", "--lab", TWIN): "--lab cannot be used",
        ("--resume", str(tmp_path)): "is not a campaign folder",
        (): "give a campaign FILE",
    }
    for args, message in cases.items():
        result = _invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert message in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    run = next((folder / "runs").iterdir())
    with open(run / "lock", "w") as lock:  # as a live `mscrobot campaign` holds it
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = _invoke("--resume", str(folder))
    assert result.exit_code == 2 and "is running in another process" in result.stderr
    (folder / SUMMARY_NAME).write_text("{not json", encoding="utf-8")
    result = _invoke("--resume", str(folder))
    assert result.exit_code == 2 and "cannot be resumed: " in result.stderr
    assert len(result.stderr.splitlines()) == 1
    (folder / SUMMARY_NAME).unlink()
    (folder / "campaign.yaml").write_text("name: [", encoding="utf-8")
    result = _invoke("--resume", str(folder))
    assert result.exit_code == 2 and result.stderr.startswith(str(folder / "campaign.yaml"))


def test_what_a_run_held_comes_from_its_journaled_steps() -> None:
    steps = [("sample", {"vessel": "salt_stock"}), ("reference", {}),
             ("discard", {}), ("dispense", {"source": "salt_stock", "dest": "reaction"}),
             ("stir", {"rpm": 1000.0}), ("sample", {"vessel": "reaction"})]
    held = Reentry.after(steps, position=1)
    assert (held.replay, held.on_vial, held.position, held.rpm) == (6, True, 1, 1000.0)
    assert held.leases == {SPECTROMETER} and held.in_sequence
    prologue = Reentry.after(steps[:2], position=1)
    assert not prologue.on_vial and prologue.position is None
    assert prologue.leases == {SPECTROMETER}


def test_a_resumed_run_takes_back_its_own_position() -> None:
    sched = Scheduler(positions=2, ahead=0)
    sched.admit(0)
    sched.admit(1)
    sched.place(0, position=1)
    sched.place(1)
    assert (sched.position_of(0), sched.position_of(1)) == (1, 0)
    with pytest.raises(Exception, match="there are 2"):
        sched.place(1, position=2)


def test_a_run_stopped_mid_stir_on_a_shared_speed_device_stirs_again_first(
        tmp_path: Path) -> None:
    """Stopped right after its vial started turning: on resume it takes back its position and
    the device's speed before its next step, then finishes as it would alone."""
    file = tmp_path / "c.yaml"
    file.write_text(f"name: shared\nresources: {{stir_positions: 2, shared_speed: true}}\n"
                    f"ahead: 0\nseed: 7\nrecipes: [{REFERENCE}, {REFERENCE}]\n", encoding="utf-8")
    loaded = load_campaign(file, TWIN)
    folder, infos = create_campaign(loaded, tmp_path / "out")
    stop = threading.Event()

    def on_event(run: int, event: Event) -> None:
        if run == 0 and event.kind == EventKind.STEP and event.step is not None \
                and event.step.kind == "stir":
            stop.set()

    first = run_campaign(loaded, folder, infos, on_event, stop=stop)
    assert 0 in first["unfinished"]
    loaded, infos, progress, _ = load_resume(folder)
    held = progress.reentries[0]
    assert held.on_vial and held.rpm is not None
    assert held.position == first["runs"][0]["position"]
    summary = run_campaign(loaded, folder, infos, progress=progress)
    assert summary["segment"] == 1 and summary["earlier"][0]["segment"] == 0
    speed = [iv for iv in summary["intervals"] if iv["resource"].startswith("speed")
             and iv["run"] == 0]
    assert speed[0]["start"] == 0.0, "it stirs again at once, before anything else"
    assert summary["runs"][0]["position"] == held.position
    _check_whole(folder, summary)


def test_a_reserved_position_waits_for_its_run() -> None:
    """A new run never lands on the position a resumed run's vial stands on."""
    sched = Scheduler(positions=2, ahead=0)
    sched.reserve(1, 0)
    sched.admit(0)
    sched.admit(1)
    sched.place(0)  # asks first, for any position: it gets the one not reserved
    sched.place(1, position=0)
    assert (sched.position_of(0), sched.position_of(1)) == (1, 0)
