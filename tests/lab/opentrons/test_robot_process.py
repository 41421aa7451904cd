"""The Opentrons engine in a child process (``mscrobot run`` starts it first): the same answers
as in process, errors included, and no child outlives its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mscrobot.lab.config import shipped_labs
from mscrobot.lab.opentrons import commands as c
from mscrobot.lab.opentrons import robot_process
from mscrobot.lab.protocols import DeviceFaultError

ROOT = Path(__file__).resolve().parents[3]


def test_which_labs_get_a_robot_process(flex_lab_text: str) -> None:
    labs = shipped_labs()
    assert robot_process.robot_for(labs["simulated"]) == "OT-2"
    assert robot_process.robot_for(flex_lab_text) == "Flex"
    assert robot_process.robot_for(labs["twin"]) is None
    for over_http in ("opentrons-emulated.yaml", "emulated.yaml"):
        assert robot_process.robot_for((ROOT / "hardware/labs" / over_http).read_text()) is None


def test_the_child_answers_as_the_engine_in_process_would() -> None:
    robot_process.prestart("OT-2")
    child = robot_process.take("OT-2")
    assert child is not None and robot_process.take("OT-2") is None  # taken once
    try:
        assert child.robot_type == "OT-2 Standard" and child.knows_run(child.run_id)
        home = child.send(c.home())
        assert home.status == "succeeded" and child.status(home.id) == home
        pip = child.send(c.load_pipette("p300_single_gen2", "right")).result["pipetteId"]
        refused = child.send(c.drop_tip_in_place(pip))  # no tip: Opentrons says no
        assert (refused.status, refused.error_type) == ("failed", "TipNotAttachedError")
        with pytest.raises(c.InvalidCommandError, match="loadPipette"):
            child.send(c.load_pipette("p9000", "left"))
        assert [r.command_type for r in child.commands()] == ["home", "loadPipette",
                                                             "dropTipInPlace"]
    finally:
        child.close()
    assert not child._process.is_alive()
    with pytest.raises(DeviceFaultError, match="process ended"):
        child.send(c.home())


@pytest.mark.slow  # a real parent process killed, then ~3 s for the child's import to end
def test_a_child_never_outlives_a_killed_parent(tmp_path: Path) -> None:
    probe = ("import os, sys, time\n"
             "from mscrobot.lab.opentrons import robot_process\n"
             "robot_process.prestart('OT-2')\n"
             "print(robot_process._prestarted._process.pid, flush=True)\n"
             "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", probe], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    os.kill(child, 0)  # alive
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(20):  # the kernel kills it with its parent (PR_SET_PDEATHSIG), mid-import
        if _gone(child):
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the engine's process outlived its parent by 2 s")


def _gone(pid: int) -> bool:
    """Ended (a zombie waiting for init to reap it counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")
