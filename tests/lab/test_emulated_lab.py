"""The emulated lab: the engine drives the IKA stirrer emulator over real TCP, and the stirrer's
read-back speed drives the simulated vial."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mscrobot.engine.journal import Journal
from mscrobot.engine.states import RunState
from tests.engine.runs import REFERENCE, cli, dry_run, end_state, only_run

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[str]:
    faults = getattr(request, "param", None)
    cmd = [sys.executable, "-m", "mscrobot.cli", "emulate", "stirrer", "--tcp", "0",
           "--speed", "20"] + (["--faults", faults] if faults else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait()


def _lab(address: str) -> str:
    text = (ROOT / "hardware/labs/emulated.yaml").read_text()
    assert "socket://127.0.0.1:4001" in text
    return text.replace("socket://127.0.0.1:4001", f"socket://{address}")


def test_reference_recipe_on_the_emulated_lab_decides_as_on_the_simulated_one(
        tmp_path: Path, emulator: str) -> None:
    info, end = dry_run(tmp_path / "emulated", lab=_lab(emulator))
    _, sim = dry_run(tmp_path / "simulated")
    assert end.state == RunState.COMPLETED and end.result is not None and sim.result is not None
    assert [(v.state, v.action) for v in end.result.forward] == \
        [(v.state, v.action) for v in sim.result.forward]
    assert end.result.back[-1].state == sim.result.back[-1].state == "complete"
    events = [json.loads(x) for x in (info.path / "world.jsonl").read_text().splitlines()]
    stirs = [e["rpm"] for e in events if e["op"] == "stir"]
    assert stirs and max(stirs) == pytest.approx(1000.0, abs=20) and stirs[-1] == 0.0


@pytest.mark.parametrize("emulator", ["stall"], indirect=True)
def test_a_stalled_motor_stops_the_run_safely(tmp_path: Path, emulator: str) -> None:
    info, end = dry_run(tmp_path, lab=_lab(emulator))
    assert end.state == RunState.FAILED and "stir" in end.reason
    journal = Journal(info.path / "journal.sqlite")
    failed = [s for s in journal.steps() if s.status == "failed"]
    journal.close()
    assert len(failed) == 1 and failed[0].kind == "stir" and failed[0].attempts == 0
    assert end_state(info.path)["spectra"] > 0  # what was measured before is all there


def test_an_unreachable_stirrer_starts_nothing(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(_lab("127.0.0.1:9"))  # discard port: nothing listens
    out = tmp_path / "runs"
    proc = cli("run", str(REFERENCE), "--lab", str(lab), "--out", str(out))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "cannot start run" in proc.stderr and "stirrer" in proc.stderr
    run = only_run(out)
    journal = Journal(run / "journal.sqlite")
    assert journal.steps() == [] and journal.state() == ("created", "")
    journal.close()


def test_devices_probe_reads_the_stirrer_and_reports_an_unreachable_one(
        tmp_path: Path, emulator: str) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(_lab(emulator))
    proc = cli("devices", "probe", "--lab", str(lab), "--json")
    assert proc.returncode == 0, proc.stderr
    stirrer = next(d for d in json.loads(proc.stdout)["devices"] if d["role"] == "stirrer")
    assert stirrer["identity"] == "RCT basic" and stirrer["state"]["actual_rpm"] == 0.0
    lab.write_text(_lab("127.0.0.1:9"))
    down = cli("devices", "probe", "--lab", str(lab))
    assert down.returncode == 1 and "unreachable" in down.stdout and "Traceback" not in \
        down.stderr
