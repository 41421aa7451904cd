"""Files that are not plain files: a device is refused before it is opened, a pipe is read once
with a size cap, and a FIFO nobody writes to is given up on instead of blocking forever."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mscrobot import yamldoc
from mscrobot.cli import app

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "recipes" / "cds34-zncl2.yaml"


def _limited() -> None:
    """A regression reads /dev/zero until memory runs out: 2 GiB ends it with a MemoryError."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("command", [
    ["recipe", "check", "/dev/zero"],
    ["campaign", "{campaign}", "--out", "{tmp}/campaigns"],
], ids=["recipe", "campaign-grid-base"])
def test_a_device_is_refused_in_one_line(command: list[str], tmp_path: Path) -> None:
    """In a real process with a memory limit, so a regression cannot exhaust the machine."""
    campaign = tmp_path / "c.yaml"
    campaign.write_text("name: c\ngrid:\n  base: /dev/zero\n  vary: {salt.compound: [ZnCl2]}\n")
    args = [a.format(campaign=campaign, tmp=tmp_path) for a in command]
    proc = subprocess.run([sys.executable, "-m", "mscrobot.cli", *args], capture_output=True,
                          text=True, timeout=120, preexec_fn=_limited, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "is a device, not a file" in proc.stderr, \
        proc.stderr
    assert "internal error" not in proc.stderr
    assert not (tmp_path / "campaigns").exists()


def test_a_fifo_nobody_writes_to_is_given_up_on(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "recipe.yaml"
    os.mkfifo(fifo)
    monkeypatch.setattr(yamldoc, "PIPE_WAIT_S", 0.3, raising=False)

    done = threading.Event()

    def release() -> None:  # a regression blocks in open(): a writer lets it go, to fail
        if not done.wait(5):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    threading.Thread(target=release, daemon=True).start()
    started = time.monotonic()
    result = CliRunner().invoke(app, ["recipe", "check", str(fifo)])
    done.set()
    assert time.monotonic() - started < 3
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stderr == (f"{fifo}:1:1: is a pipe and nothing came through it for 0.3 s "
                             "(is anything writing to it?)\n")


def test_a_pipe_is_read_once_and_capped() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as w:
        w.write(REFERENCE.read_bytes())
    try:
        doc = yamldoc.read_document(f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
    assert doc.text == REFERENCE.read_text() and doc.data["name"]

    def big_writer(fd: int) -> None:
        with contextlib.suppress(BrokenPipeError):
            os.write(fd, b"#" * (yamldoc.MAX_BYTES * 2))
        os.close(fd)

    read_end, write_end = os.pipe()
    writer = threading.Thread(target=big_writer, args=(write_end,), daemon=True)
    writer.start()
    try:
        with pytest.raises(yamldoc.DocumentError, match="more than 1048576 bytes"):
            yamldoc.read_document(f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
    writer.join(5)
