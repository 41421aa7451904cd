"""A dry run of your exact lab never touches it: plan, run --dry-run and recipe check --lab on a
lab whose every device points at a listening socket make zero connections."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mscrobot.app.drylab import dry_counterpart, lab_text
from mscrobot.cli import app
from mscrobot.lab.config import lab_from_text, load_lab

EMULATED = Path("hardware/labs/emulated.yaml")
REFERENCE = "recipes/cds34-zncl2.yaml"


@pytest.fixture
def listening() -> Iterator[list[socket.socket]]:
    socks = []
    for _ in range(4):  # robot, stirrer, spectrometer, its physics link
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        s.setblocking(False)
        socks.append(s)
    yield socks
    for s in socks:
        s.close()


def _lab(tmp_path: Path, socks: list[socket.socket]) -> Path:
    robot, stirrer, spectrometer, physics = (s.getsockname()[1] for s in socks)
    text = (EMULATED.read_text()
            .replace("http://127.0.0.1:31950", f"http://127.0.0.1:{robot}")
            .replace("socket://127.0.0.1:4001", f"socket://127.0.0.1:{stirrer}")
            .replace("127.0.0.1:4002", f"127.0.0.1:{spectrometer}")
            .replace("127.0.0.1:4003", f"127.0.0.1:{physics}"))
    assert text.count("127.0.0.1:") >= 4 and ":4001" not in text
    path = tmp_path / "lab.yaml"
    path.write_text(text)
    return path


def _connections(socks: list[socket.socket]) -> int:
    ready, _, _ = select.select(socks, [], [], 0.2)
    return len(ready)


def test_plan_dry_run_and_check_connect_to_no_device(tmp_path: Path,
                                                     listening: list[socket.socket]) -> None:
    lab = _lab(tmp_path, listening)
    runner = CliRunner()
    planned = runner.invoke(app, ["plan", REFERENCE, "--lab", str(lab), "--json"])
    assert planned.exit_code == 0, planned.output
    view = json.loads(planned.stdout)
    assert view["time_estimate"]["expected_end"] == "finished"
    # the robot's side, read from the lab file and the tip inventory alone
    assert [t["racks_hold"] for t in view["tips"]] == [96, 288]
    assert all(0 < t["worst_case"] <= t["racks_hold"] for t in view["tips"])
    assert any("mscrobot_flow_cell_inlet in slot 5: assumed geometry" in w
               for w in view["warnings"]) and view["labware_offsets"] == []
    checked = runner.invoke(app, ["recipe", "check", REFERENCE, "--lab", str(lab)])
    assert checked.exit_code == 0, checked.output
    ran = runner.invoke(app, ["run", REFERENCE, "--lab", str(lab), "--dry-run", "--out",
                              str(tmp_path / "runs"), "--json"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["state"] == "completed"
    assert _connections(listening) == 0


def test_the_sockets_would_see_a_connection(listening: list[socket.socket]) -> None:
    """The check above can fail: a connection to one of them is seen."""
    with socket.create_connection(listening[1].getsockname(), timeout=1):
        assert _connections(listening) == 1


def test_the_counterpart_keeps_the_lab_as_written() -> None:
    lab = load_lab(str(EMULATED))[0]
    dry = dry_counterpart(lab)
    assert dry.deck == lab.deck and dry.liquid_handler.pipettes == lab.liquid_handler.pipettes
    assert dry.liquid_handler.robot_type == lab.liquid_handler.robot_type
    assert dry.liquid_handler.robot == "simulate" and dry.clock == "virtual"
    # the lab's speedup is for its emulators' wall clock: virtual time takes none, and the
    # dry run's lab text (kept in its journal for a resume) loads again
    assert lab.speedup == 20 and dry.speedup == 1
    assert lab_from_text(lab_text(dry)).clock == "virtual"
    assert (dry.stirrer.backend, dry.spectrometer.backend) == ("simulated", "simulated")
    assert dry.spectrometer.range_max == lab.spectrometer.range_max


def test_a_recipe_the_lab_would_refuse_mid_run_is_found_at_its_line(tmp_path: Path) -> None:
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text("name: tiny samples\n"
                      "cluster: {material: CdS, concentration: 20 uM, volume: 1.5 mL}\n"
                      "salt: {compound: ZnCl2, concentration: 0.05 M, volume: 1.5 mL}\n"
                      "monitoring: {sample_volume: 5 uL}\n")
    checked = CliRunner().invoke(app, ["recipe", "check", str(recipe), "--lab", "simulated"])
    assert checked.exit_code == 2
    assert checked.stderr.startswith(f"{recipe}:4:")
    assert "monitoring.sample_volume" in checked.stderr and "no pipette takes 5 µL" in \
        checked.stderr
    planned = CliRunner().invoke(app, ["plan", str(recipe)])
    assert planned.exit_code == 2 and "no pipette takes 5 µL" in planned.stderr


def test_a_longer_flow_cell_of_the_lab_makes_a_band_unreadable(tmp_path: Path) -> None:
    _, text = load_lab("simulated")
    assert "\nspectrometer:\n" in text
    lab = tmp_path / "long-cell.yaml"
    lab.write_text(text.replace("\nspectrometer:\n", "\nspectrometer:\n  path_length: 10 mm\n"))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\n"
                      "cluster: {material: CdS, concentration: 30 uM, volume: 1.5 mL}\n"
                      "salt: {compound: ZnCl2, concentration: 0.05 M, volume: 1.5 mL}\n")
    runner = CliRunner()
    assert runner.invoke(app, ["recipe", "check", str(recipe)]).exit_code == 0  # 2 mm: 0.6 AU
    checked = runner.invoke(app, ["recipe", "check", str(recipe), "--lab", str(lab)])
    assert checked.exit_code == 2
    assert f"{recipe}:2:" in checked.stderr and "would read 3 AU in the 10 mm flow cell" in \
        checked.stderr
