"""A real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright's Python API) and a
real ``mscrobot ui`` process, for the browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def ui_server(runs: Path, host: str = "127.0.0.1") -> Iterator[tuple[str, str]]:
    """``mscrobot ui`` in its own process; yields its base URL and what it printed at start."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mscrobot.cli",
            "ui",
            "--runs",
            str(runs),
            "--host",
            host,
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    said: list[str] = []
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mscrobot ui did not start: {banner}") from None
                time.sleep(0.05)
        if host == "0.0.0.0":
            banner += proc.stderr.readline()
        # keep reading what it says, so a full pipe can never block the server
        threading.Thread(target=lambda: said.extend(proc.stderr or ()), daemon=True).start()
        yield f"http://127.0.0.1:{port}", banner
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(
                "mscrobot ui did not end on SIGTERM: " + "".join(said[-20:])
            ) from None


@contextmanager
def chromium(tmp: Path) -> Iterator[Any]:
    """A browser context with a fresh profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp / "profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 1300},
        )
        try:
            yield context
        finally:
            context.close()


def paced_run(
    out: Path, recipe: Path, delay: float, name: str | None = None
) -> tuple[subprocess.Popen[str], str]:
    """A twin run slowed to real time in its own process (``tests/ui/paced.py``), created
    and waiting for ``go(proc)``; its id."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.ui.paced",
            str(out),
            str(recipe),
            str(delay),
            *([name] if name else []),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def go(proc: subprocess.Popen[str]) -> None:
    """Let a ``paced_run`` execute."""
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.close()


def check_screenshot(path: Path) -> None:
    """The PNG at ``path`` shows something: many colours, not one flat page."""
    from matplotlib.image import imread

    image = imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 200
    colours = np.unique((image[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50, f"{path} looks blank ({len(colours)} colours)"
    assert float(image[..., :3].std()) > 0.05
