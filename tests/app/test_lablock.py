"""One owner per lab: a second process that would touch the same devices is refused at once,
naming the holder; a killed holder's lock is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mscrobot.app.lablock import LabBusyError, device_keys, hold_lab
from mscrobot.lab.config import load_lab

EMULATED = Path("hardware/labs/emulated.yaml")


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MSCROBOT_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def test_only_devices_outside_the_process_are_keyed() -> None:
    assert device_keys(load_lab("simulated")[0]) == []
    assert device_keys(load_lab("twin")[0]) == []
    assert device_keys(load_lab(str(EMULATED))[0]) == [
        ("robot", "http://127.0.0.1:31950"), ("stirrer", "socket://127.0.0.1:4001"),
        ("spectrometer", "obp://127.0.0.1:4002"), ("shutter", "rfc2217://127.0.0.1:4004")]


def test_localhost_and_loopback_are_one_device(tmp_path: Path) -> None:
    text = EMULATED.read_text().replace("http://127.0.0.1:31950", "http://localhost:31950")
    other = tmp_path / "other.yaml"
    other.write_text(text)
    assert device_keys(load_lab(str(other))[0]) == device_keys(load_lab(str(EMULATED))[0])


def test_a_second_holder_is_refused_and_nothing_is_held() -> None:
    lab = load_lab(str(EMULATED))[0]
    busy = (r"the robot http://127\.0\.0\.1:31950 is in use by `mscrobot run` "
            rf"\(run-a, PID {os.getpid()}, since ")
    with hold_lab(lab, "run-a", "run"), pytest.raises(LabBusyError, match=busy), \
            hold_lab(lab, "b", "devices probe"):
        pytest.fail("held twice")
    with hold_lab(lab, "run-c", "run") as keys:
        assert len(keys) == 4  # robot, stirrer, spectrometer, its shutter line


def test_a_holder_in_another_process_is_named_and_its_death_frees_the_lab(
        tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    code = textwrap.dedent(f"""
        import pathlib, time
        from mscrobot.app.lablock import hold_lab
        from mscrobot.lab.config import load_lab
        with hold_lab(load_lab({str(EMULATED)!r})[0], "run-x", "campaign"):
            pathlib.Path({str(ready)!r}).write_text("held")
            time.sleep(60)
    """)
    holder = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the holder never took the lab"
        with pytest.raises(LabBusyError, match=rf"`mscrobot campaign` \(run-x, PID {holder.pid}"), \
                hold_lab(load_lab(str(EMULATED))[0], "mine", "run"):
            pytest.fail("held while another process holds it")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with hold_lab(load_lab(str(EMULATED))[0], "mine", "run") as keys:
        assert keys


def test_an_unwritable_state_folder_is_one_clear_error(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("MSCROBOT_STATE_DIR", str(blocked))
    with pytest.raises(LabBusyError, match="cannot keep device locks"), \
            hold_lab(load_lab(str(EMULATED))[0], "r", "run"):
        pytest.fail("held without a lock folder")
