"""The emulated lab: the engine drives the Opentrons robot emulator over its HTTP API, the IKA
stirrer emulator over NAMUR/TCP and the Ocean HDX emulator over OBP/TCP through seabreeze, all
real processes. The stirrer's read-back speed drives the simulated vial; the simulated flow
cell's contents reach the spectrometer emulator over its physics link. Each fault kind either
heals (the run ends as an unbroken one) or stops the run safely with its journal intact.
Without the physics link the lab simulates nothing and builds no World. The robot emulator
(~4 s to start: it imports Opentrons) serves the whole module, one run at a time, as a robot
serves its lab."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mscrobot.app.labs import assemble_lab
from mscrobot.app.runs import RunInfo, execute
from mscrobot.engine.journal import Journal
from mscrobot.engine.runner import RunEnd
from mscrobot.engine.states import RunState
from mscrobot.lab.clock import WallClock
from mscrobot.lab.config import lab_from_text
from mscrobot.lab.opentrons.handler import OpentronsLiquidHandler
from mscrobot.recipe.loader import load_recipe
from tests.engine.runs import REFERENCE, cli, dry_run, end_state, only_run

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
STIRRER, SPECTROMETER, PHYSICS = "127.0.0.1:4001", "127.0.0.1:4002", "127.0.0.1:4003"
SHUTTER = "rfc2217://127.0.0.1:4004"
ROBOT = "http://127.0.0.1:31950"
#: the lab's one speedup, which every emulator that keeps time is started with
SPEED = f"{lab_from_text((ROOT / 'hardware/labs/emulated.yaml').read_text()).speedup:g}"


@dataclass
class Emulators:
    stirrer: str
    spectrometer: str
    physics: str
    shutter: str
    robot: str
    logs: Path

    def fired(self, device: str) -> list[str]:
        """The fault kinds the emulator says it injected, in order."""
        lines = (self.logs / f"{device}.log").read_text().splitlines()
        return [line.split()[1] for line in lines if line.startswith("fault ")]

    def lab(self, **changes: str) -> str:
        """hardware/labs/emulated.yaml pointed at these processes (plus line changes)."""
        text = (ROOT / "hardware/labs/emulated.yaml").read_text()
        for old, new in {f"robot: {ROBOT}": f"robot: {self.robot}",
                         f"socket://{STIRRER}": f"socket://{self.stirrer}",
                         f"address: {SPECTROMETER}": f"address: {self.spectrometer}",
                         f"physics: {PHYSICS}": f"physics: {self.physics}",
                         SHUTTER: self.shutter, **changes}.items():
            assert old in text, old
            text = text.replace(old, new)
        return text


def _start(log: Path, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
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


@pytest.fixture(scope="module")
def robot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mscrobot emulate opentrons`` on a free port."""
    proc, (address,) = _start(tmp_path_factory.mktemp("robot") / "robot.log", "opentrons",
                              "--port", "0")
    try:
        yield f"http://{address}"
    finally:
        proc.kill()
        proc.wait()


def _instruments(logs: Path, robot: str, faults: dict[str, str]) -> Iterator[Emulators]:
    """The stirrer and spectrometer emulators on free ports (with ``faults``), and ``robot``."""
    stirrer, (stirrer_at,) = _start(logs / "stirrer.log", "stirrer", "--tcp", "0",
                                    "--speed", SPEED, *(["--faults", faults["stirrer"]]
                                                        if "stirrer" in faults else []))
    spectro, (spectro_at, physics_at, shutter_at) = _start(
        logs / "spectrometer.log", "spectrometer", "--tcp", "0", "--physics", "0",
        "--shutter", "0", "--speed", SPEED,
        *(["--faults", faults["spectrometer"]] if "spectrometer" in faults else []))
    try:
        yield Emulators(stirrer_at, spectro_at, physics_at, shutter_at, robot, logs)
    finally:
        for proc in (stirrer, spectro):
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def fault_free(robot: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    """One fault-free pair of instrument emulators for the module's tests that inject none."""
    yield from _instruments(tmp_path_factory.mktemp("emulators"), robot, {})


@pytest.fixture
def emulators(request: pytest.FixtureRequest, robot: str,
              tmp_path: Path) -> Iterator[Emulators]:
    """The instrument emulators, and the module's robot; ``param``: {"stirrer": faults,
    "spectrometer": faults} starts a pair of the test's own, else the module's fault-free pair
    serves (each run leaves the motor off and sets the spectrometer's physics afresh)."""
    faults = getattr(request, "param", {})
    if not faults:
        yield request.getfixturevalue("fault_free")
        return
    yield from _instruments(tmp_path, robot, faults)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> RunEnd:
    return dry_run(tmp_path_factory.mktemp("simulated"))[1]


def _same_decisions(end: RunEnd, sim: RunEnd) -> None:
    """The run ends as the simulated lab's: each stage's last verdict and action, through no
    state the simulated run never saw. Not sample for sample: on the wall clock the robot's
    real time (x the lab's speedup) comes on top of the simulated one's, so the samples fall
    later and the exchange may be judged in progress once more or less (lab time ~1700 s
    against 1260 s at speedup 20, 85 steps against 74)."""
    assert end.state == RunState.COMPLETED, end.reason
    assert end.result is not None and sim.result is not None
    print(f"lab time {end.lab_t:.0f} s, {end.steps} steps (simulated: {sim.lab_t:.0f} s, "
          f"{sim.steps} steps)")
    for got, want in ((end.result.forward, sim.result.forward),
                      (end.result.back, sim.result.back)):
        print([(v.state.value, v.action.value) for v in got], "simulated:",
              [(v.state.value, v.action.value) for v in want])
        assert got and (got[-1].state, got[-1].action) == (want[-1].state, want[-1].action)
        assert {v.state for v in got} <= {v.state for v in want}
        assert abs(len(got) - len(want)) <= 3


def _failed_safely(info: RunInfo, end: RunEnd, kind: str) -> None:
    """One failed step of ``kind``, never retried after a device-reported error; everything
    before it is journaled; the stirrer is off."""
    assert end.state == RunState.FAILED
    journal = Journal(info.path / "journal.sqlite")
    steps = journal.steps()
    journal.close()
    failed = [s for s in steps if s.status == "failed"]
    assert len(failed) == 1 and failed[0].kind == kind, end.reason
    assert all(s.status == "done" for s in steps if s.n < failed[0].n)
    events = [json.loads(x) for x in (info.path / "world.jsonl").read_text().splitlines()]
    stirs = [e["rpm"] for e in events if e["op"] == "stir"]
    assert not stirs or stirs[-1] == 0.0


def test_reference_recipe_on_the_emulated_lab_decides_as_on_the_simulated_one(
        tmp_path: Path, emulators: Emulators, simulated: RunEnd) -> None:
    info, end = dry_run(tmp_path / "run", lab=emulators.lab())
    _same_decisions(end, simulated)
    events = [json.loads(x) for x in (info.path / "world.jsonl").read_text().splitlines()]
    stirs = [e["rpm"] for e in events if e["op"] == "stir"]
    assert stirs and max(stirs) == pytest.approx(1000.0, abs=20) and stirs[-1] == 0.0
    # the spectra came from the emulated HDX through seabreeze, auto-ranged per reference
    journal = Journal(info.path / "journal.sqlite")
    spectra = journal.spectra()
    journal.close()
    assert {s.meta.get("serial") for s in spectra} == {"HDX-EMU-0001"}
    references = [s for s in spectra if s.meta.get("kind") == "reference"]
    assert [r.meta["blank"] for r in references] == ["polar_salt", "nonpolar", "nonpolar_ola"]
    assert all(0.7 * 65535 < float(r.counts.max()) < 0.9 * 65535 for r in references)
    # every spectrum says how its dark was taken: the shutter's TTL line, not the physics link
    assert {s.meta.get("dark_mode") for s in spectra} == {"ttl_shutter"}
    darks = [s for s in spectra if s.meta.get("kind") == "dark"]
    assert len(darks) == len(references) and all(
        float(d.counts.max()) < 0.1 * float(r.counts.max())
        for d, r in zip(darks, references, strict=True))


#: every transport fault the HDX emulator can inject, spread over one run's ~100 spectrum requests
TRANSPORT_FAULTS = "garbage@10,checksum@24,footer@38,partial@52,disconnect@66,timeout@80"


@pytest.mark.filterwarnings("ignore:WARNING OBP. The checksums differ")
@pytest.mark.parametrize("emulators", [{"spectrometer": TRANSPORT_FAULTS + ",saturate@20"}],
                         indirect=True)
def test_spectrometer_transport_faults_heal_and_the_run_decides_as_an_unbroken_one(
        tmp_path: Path, emulators: Emulators, simulated: RunEnd) -> None:
    lab = emulators.lab(**{"scans: 4": "scans: 4\n  timeout_s: 0.3"})
    info, end = dry_run(tmp_path / "run", lab=lab)
    _same_decisions(end, simulated)
    journal = Journal(info.path / "journal.sqlite")
    assert all(s.status == "done" and s.attempts == 0 for s in journal.steps())
    journal.close()
    assert sorted(emulators.fired("spectrometer")) == sorted(
        ["saturate"] + [f.split("@")[0] for f in TRANSPORT_FAULTS.split(",")])


#: every transient fault of the stirrer emulator, on the commands of the first speed changes
STIRRER_FAULTS = ("timeout:IN_PV_4@1,garbage:IN_SP_4@2,partial:IN_PV_4@3,"
                  "wrong_readback:IN_SP_4@4,disconnect@12")


@pytest.mark.parametrize("emulators", [{"stirrer": STIRRER_FAULTS}], indirect=True)
def test_stirrer_transport_faults_heal_and_the_run_decides_as_an_unbroken_one(
        tmp_path: Path, emulators: Emulators, simulated: RunEnd) -> None:
    info, end = dry_run(tmp_path / "run", lab=emulators.lab())
    _same_decisions(end, simulated)
    journal = Journal(info.path / "journal.sqlite")
    assert all(s.status == "done" and s.attempts == 0 for s in journal.steps())
    journal.close()
    assert sorted(emulators.fired("stirrer")) == sorted(
        f.split(":")[0].split("@")[0] for f in STIRRER_FAULTS.split(","))


@pytest.mark.parametrize("emulators", [{"spectrometer": "nack@40"}], indirect=True)
def test_a_device_reported_spectrometer_error_stops_safely_and_the_run_resumes(
        tmp_path: Path, emulators: Emulators, simulated: RunEnd) -> None:
    info, end = dry_run(tmp_path / "run", lab=emulators.lab())
    _failed_safely(info, end, "measure")
    assert "Int Device Error" in end.reason and emulators.fired("spectrometer") == ["nack"]
    before = end_state(info.path)["spectra"]
    resumed = execute(info)  # the operator looked; the device answers again
    _same_decisions(resumed, simulated)
    assert end_state(info.path)["spectra"] > before


@pytest.mark.parametrize("emulators", [{"spectrometer": "timeout@40*400"}], indirect=True)
def test_a_silent_spectrometer_is_retried_then_stops_the_run_safely(
        tmp_path: Path, emulators: Emulators) -> None:
    lab = emulators.lab(**{"scans: 4": "scans: 4\n  timeout_s: 0.2"})
    info, end = dry_run(tmp_path / "run", lab=lab)
    _failed_safely(info, end, "measure")
    assert "failed 3 times" in end.reason
    journal = Journal(info.path / "journal.sqlite")
    failed = next(s for s in journal.steps() if s.status == "failed")
    journal.close()
    assert failed.attempts == 3  # transient: the engine retried the step, then gave up


@pytest.mark.parametrize("emulators", [{"stirrer": "stall"}], indirect=True)
def test_a_stalled_motor_stops_the_run_safely(tmp_path: Path, emulators: Emulators) -> None:
    info, end = dry_run(tmp_path / "run", lab=emulators.lab())
    _failed_safely(info, end, "stir")
    assert end_state(info.path)["spectra"] > 0  # what was measured before is all there


@pytest.mark.parametrize("device", ["stirrer", "spectrometer", "robot"])
def test_an_unreachable_instrument_starts_nothing(tmp_path: Path, emulators: Emulators,
                                                  device: str) -> None:
    down = {"stirrer": f"socket://{emulators.stirrer}", "spectrometer":
            f"address: {emulators.spectrometer}", "robot": emulators.robot}[device]
    lab = tmp_path / "lab.yaml"
    lab.write_text(emulators.lab().replace(down, down.replace(
        down.rsplit(":", 1)[1], "9")))  # discard port: nothing listens
    out = tmp_path / "runs"
    proc = cli("run", str(REFERENCE), "--lab", str(lab), "--out", str(out))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "cannot start run" in proc.stderr and device in proc.stderr
    run = only_run(out)
    journal = Journal(run / "journal.sqlite")
    assert journal.steps() == [] and journal.state() == ("created", "")
    journal.close()


def test_devices_probe_reads_both_instruments_and_reports_an_unreachable_one(
        tmp_path: Path, emulators: Emulators) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(emulators.lab())
    proc = cli("devices", "probe", "--lab", str(lab), "--json")
    assert proc.returncode == 0, proc.stderr
    found = {d["role"]: d for d in json.loads(proc.stdout)["devices"]}
    assert found["stirrer"]["identity"] == "RCT basic"
    assert found["stirrer"]["state"]["actual_rpm"] == 0.0
    assert found["spectrometer"]["identity"] == "HDX HDX-EMU-0001"
    assert found["spectrometer"]["state"]["pixels"] == 2068
    assert "OT-2 Standard" in found["liquid_handler"]["identity"]
    lab.write_text(emulators.lab().replace(f"address: {emulators.spectrometer}",
                                           "address: 127.0.0.1:9"))
    down = cli("devices", "probe", "--lab", str(lab))
    assert down.returncode == 1 and "unreachable" in down.stdout and "Traceback" not in \
        down.stderr


def test_a_lab_that_simulates_nothing_builds_no_world(tmp_path: Path,
                                                      emulators: Emulators) -> None:
    """The three emulators as if they were the instruments: no physics link, the wall clock.
    The robot's handler tracks the volumes itself; no simulated world is built or written; the
    dark is taken with the lamp's shutter on its TTL line, as on a real HDX rig."""
    text = emulators.lab(**{f"physics: {PHYSICS}": "integration_ms: 10"})
    run = tmp_path / "run"
    run.mkdir()
    built = assemble_lab(lab_from_text(text), load_recipe(REFERENCE).recipe, 0, run)
    lab = built.lab
    try:
        assert built.world is None and isinstance(lab.clock, WallClock)
        h = lab.liquid_handler
        assert isinstance(h, OpentronsLiquidHandler) and h.follower is None
        h.dispense("real/1", "salt_stock", "reaction", 1500.0, "polar")
        h.dispense("real/2", "cluster_stock", "reaction", 1500.0, "nonpolar")
        assert h.status_of("real/2") == "done" and h.volumes()["reaction"] == 3000.0
        h.sample("real/3", "reaction", "nonpolar", 20.0)
        assert h.volumes()["flow_cell"] == 20.0
        assert lab.stirrer.set_speed(300.0) == pytest.approx(300.0, abs=20)
        assert lab.stirrer.set_speed(0.0) == pytest.approx(0.0, abs=20)
        spectrum = lab.spectrometer.measure("real/4", 10.0)
        assert spectrum.meta.get("serial") == "HDX-EMU-0001"
        dark, reference = lab.spectrometer.reference("real/5", "nonpolar")
        assert dark.meta["dark_mode"] == reference.meta["dark_mode"] == "ttl_shutter"
        assert float(np.percentile(dark.counts, 99)) < 0.1 * float(
            np.percentile(reference.counts, 99))
    finally:
        lab.close()
    assert sorted(p.name for p in run.iterdir()) == ["clock.jsonl", "opentrons.jsonl"]
