"""Run folders on storage that fails: a full disk and a read-only folder, on real small
filesystems (tmpfs mounts; skipped where this process may not mount). Each failure is one line
naming what to fix; a run that cannot be created leaves nothing behind, and a run stopped by a
full disk resumes once there is room."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mscrobot.cli import app
from tests.engine.runs import REFERENCE, SUBTHRESHOLD, TWIN, only_run

Mount = Callable[[str], Path]


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Mount]:
    """``small_fs("64k")``: a fresh tmpfs of that size; unmounted after the test."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        try:
            _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
        except (OSError, subprocess.CalledProcessError) as e:
            pytest.skip(f"cannot mount a small tmpfs here: {e}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _one_line(result: Result, code: int, *needles: str) -> str:
    assert result.exit_code == code, (result.output, result.exception)
    line = result.stderr
    assert line.count("\n") == 1 and "internal error" not in line, line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def test_a_full_disk_at_creation_leaves_nothing_behind(small_fs: Mount) -> None:
    out = small_fs("64k") / "runs"
    _one_line(_cli("run", str(REFERENCE), "--lab", TWIN, "--out", str(out), "--json"), 2,
              f"cannot create the run folder {out}/", "free space there or give another --out")
    assert list(out.iterdir()) == []  # no half-made `.new-…` folder


def test_a_full_disk_at_a_campaign_s_creation_leaves_nothing_behind(small_fs: Mount,
                                                                    tmp_path: Path) -> None:
    campaign = tmp_path / "c.yaml"
    campaign.write_text(f"name: c\nlab: twin\nrecipes: [{REFERENCE}, {REFERENCE}]\n")
    out = small_fs("64k") / "campaigns"
    _one_line(_cli("campaign", str(campaign), "--out", str(out), "--json"), 2,
              f"cannot create the campaign folder {out}/", "free space there")
    assert list(out.iterdir()) == []


@pytest.mark.slow  # a run and its resume: ~4 s
def test_a_full_disk_mid_run_stops_it_and_it_resumes_once_there_is_room(
        small_fs: Mount) -> None:
    fs = small_fs("256k")
    out = fs / "runs"
    line = _one_line(_cli("run", str(REFERENCE), "--lab", TWIN, "--out", str(out), "--json"),
                     1, "cannot be written (database or disk is full); free space there")
    command = re.search(r"resume with `(.+)`", line)
    assert command is not None, line
    assert shlex.split(command[1]) == ["mscrobot", "run", "--resume", only_run(out).name,
                                       "--out", str(out)]
    _mount("-o", "remount,size=16m", str(fs))
    resumed = _cli(*shlex.split(command[1])[1:], "--json")
    assert resumed.exit_code == 0, (resumed.output, resumed.exception)


@pytest.mark.slow  # a run, then every command on it: ~4 s
def test_a_read_only_runs_folder_is_read_and_refuses_writes_in_one_line(
        small_fs: Mount, tmp_path: Path) -> None:
    fs = small_fs("16m")
    out = fs / "runs"
    made = _cli("run", str(SUBTHRESHOLD), "--lab", TWIN, "--out", str(out), "--json")
    assert made.exit_code == 1 and "awaiting_operator" in made.stdout, made.output
    run, step = only_run(out).name, json.loads(made.stdout)["pending"]["step"]
    _mount("-o", "remount,ro", str(fs))
    assert _cli("runs", "show", run, "--out", str(out)).exit_code == 0
    _one_line(_cli("runs", "report", run, "--out", str(out)), 2,
              "cannot write the report in", "Read-only file system",
              "make the run folder writable")
    _one_line(_cli("runs", "export", run, "--out", str(out)), 2,
              "Read-only file system", "give -o DIR for a writable folder")
    assert _cli("runs", "export", run, "--out", str(out), "-o",
                str(tmp_path / "export")).exit_code == 0
    _one_line(_cli("runs", "resolve", run, "--step", str(step), "--abort", "--out", str(out)), 2,
              "cannot record the answer", "make it writable")
    _one_line(_cli("run", "--resume", run, "--out", str(out)), 2,
              "cannot be resumed", "is read-only", "copy the run folder")
