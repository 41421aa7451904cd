"""The reference recipe on a lab whose spectrometer is a FLAME-S in its own process
(``mscrobot emulate flame``, its USB transfers over TCP), darks taken with its lamp-enable line
or its masked pixels, never over the physics link (which carries only the flow cell's
contents): the run decides as on the twin, and every spectrum says how its dark was taken."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mscrobot.engine.journal import Journal
from mscrobot.engine.states import RunState
from mscrobot.lab.config import shipped_labs
from tests.engine.runs import dry_run

pytestmark = pytest.mark.slow
#: the lab's one speedup (its clock is the wall's: the FLAME-S keeps real time), which the
#: emulator is started with
SPEED = 20.0


@pytest.fixture
def flame(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mscrobot.cli",
            "emulate",
            "flame",
            "--tcp",
            "0",
            "--physics",
            "0",
            "--speed",
            f"{SPEED:g}",
            "--lamp",
            request.param,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    usb = proc.stdout.readline().strip()
    physics = proc.stdout.readline().strip().removeprefix("physics ")
    try:
        assert usb and physics, proc.stderr.read() if proc.stderr else ""
        yield usb, physics
    finally:
        proc.kill()
        proc.wait()


def _lab(usb: str, physics: str, dark: str) -> str:
    text = shipped_labs()["twin"].replace("name: twin", "name: flame").replace(
        "clock: virtual", f"speedup: {SPEED:g}"
    )
    start, end = text.index("spectrometer:"), text.index("deck:")
    return (
        text[:start] + "spectrometer:\n  backend: ocean\n  model: FLAME-S\n"
        f"  usb_emulator: {usb}\n  physics: {physics}\n  dark: {dark}\n"
        "  range_min: 200 nm\n  range_max: 800 nm\n  scans: 4\n" + text[end:]
    )


@pytest.mark.parametrize(
    ("flame", "dark"), [("line", "lamp_shutter"), ("on", "electric_dark")], indirect=["flame"]
)
def test_the_reference_recipe_runs_on_an_emulated_flame_with_real_darks(
    tmp_path: Path, flame: tuple[str, str], dark: str
) -> None:
    info, end = dry_run(tmp_path / "flame", lab=_lab(*flame, dark))
    assert end.state == RunState.COMPLETED, end.reason
    _, twin = dry_run(tmp_path / "twin")
    assert end.result is not None and twin.result is not None
    assert [(v.state, v.action) for v in end.result.forward] == [
        (v.state, v.action) for v in twin.result.forward
    ]
    assert [v.state for v in end.result.back] == [v.state for v in twin.result.back]
    journal = Journal(info.path / "journal.sqlite")
    spectra = journal.spectra()
    journal.close()
    assert {s.meta.get("serial") for s in spectra} == {"FLMS-EMU-0001"}
    assert {s.meta.get("dark_mode") for s in spectra} == {dark}
    assert all(len(s.counts) == 2048 for s in spectra)
