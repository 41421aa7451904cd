"""Lab files that pass no check a person would expect: each refused in one placed line, exit 2,
before any run folder exists (``mscrobot run``/``plan``/``devices probe`` in process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mscrobot.cli import app
from mscrobot.lab.config import shipped_labs

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "recipes" / "cds34-zncl2.yaml"


def _refused(args: list[str], *needles: str) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "internal error" not in result.stderr and len(result.stderr.splitlines()) == 1
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    return result.stderr


def test_a_complex_key_in_a_lab_file_is_placed(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(shipped_labs()["twin"].replace("clock: virtual",
                                                  "clock: virtual\n? [a, b]\n: y"))
    line = lab.read_text().splitlines().index("? [a, b]") + 1
    _refused(["devices", "probe", "--lab", str(lab)],
             f"lab.yaml:{line}:3: a key must be a name, not a list")


def test_a_deck_slot_no_robot_has_is_refused_before_the_run_exists(tmp_path: Path) -> None:
    """Opentrons would refuse it only at the deck setup, as if a device did not answer."""
    lab = tmp_path / "lab.yaml"
    lab.write_text(shipped_labs()["simulated"].replace('reaction:      {slot: "1"',
                                                       'reaction:      {slot: "13"'))
    out = tmp_path / "runs"
    _refused(["run", str(REFERENCE), "--lab", str(lab), "--out", str(out)],
             "cannot run recipe", "deck.reaction: an OT-2 has no slot '13' (slots: 1-11)")
    assert not out.exists()


@pytest.mark.parametrize(("old", "new", "field"), [
    ("address: 127.0.0.1:4002", "address: 127.0.0.1:99999", "spectrometer.address"),
    ("physics: 127.0.0.1:4003", "physics: 127.0.0.1:0", "spectrometer.physics"),
    ("url: socket://127.0.0.1:4001", "url: socket://127.0.0.1:99999", "stirrer.url"),
    ("robot: http://127.0.0.1:31950", "robot: http://127.0.0.1:99999", "liquid_handler.robot"),
], ids=["spectrometer", "physics", "stirrer", "robot"])
def test_a_port_no_socket_can_have_is_placed(tmp_path: Path, old: str, new: str,
                                             field: str) -> None:
    """It used to pass, then fail at connect (an OverflowError, or an 'unreachable' device)."""
    text = (ROOT / "hardware/labs/emulated.yaml").read_text()
    assert old in text
    lab = tmp_path / "lab.yaml"
    lab.write_text(text.replace(old, new))
    line = next(i for i, s in enumerate(lab.read_text().splitlines(), 1) if new in s)
    _refused(["devices", "probe", "--lab", str(lab)], f"lab.yaml:{line}:", f"{field}: ",
             "the port must be 1-65535")


@pytest.mark.parametrize("command", ["plan", "run"])
def test_a_missing_stirrer_profile_is_placed(tmp_path: Path, command: str) -> None:
    text = (ROOT / "hardware/labs/emulated.yaml").read_text()
    lab = tmp_path / "lab.yaml"
    lab.write_text(text.replace("profile: ika-rct-basic", "profile: ika-rct-basci"))
    line = next(i for i, s in enumerate(lab.read_text().splitlines(), 1) if "basci" in s)
    out = tmp_path / "runs"
    _refused([command, str(REFERENCE), "--lab", str(lab)]
             + (["--out", str(out)] if command == "run" else []),
             f"lab.yaml:{line}:12: stirrer.profile: 'ika-rct-basci': no such stirrer profile "
             "(shipped: ika-c-mag-hs7, ika-rct-basic; or a profile file's path)")
    assert not out.exists()


@pytest.mark.parametrize(("old", "added", "needle"), [
    ("\nspeedup: 20", "clock: virtual", "clock: virtual is the simulated world's time"),
    ("\n  backend: ika", "  speedup: 20", "stirrer.speedup: a lab runs at one speed"),
], ids=["virtual-clock", "stirrer-speedup"])
def test_a_clock_that_contradicts_the_devices_is_refused_before_the_run_exists(
        tmp_path: Path, old: str, added: str, needle: str) -> None:
    text = (ROOT / "hardware/labs/emulated.yaml").read_text()
    assert old in text
    lab = tmp_path / "lab.yaml"
    lab.write_text(text.replace(old, f"\n{added}{old}" if "clock" in added
                                else f"{old}\n{added}", 1))
    line = lab.read_text().splitlines().index(added) + 1
    out = tmp_path / "runs"
    _refused(["run", str(REFERENCE), "--lab", str(lab), "--out", str(out)],
             f"lab.yaml:{line}:", needle)
    assert not out.exists()
