"""``mscrobot ui``: watch runs live in the browser, answer their questions and stop them.

The web app lives in ``mscrobot/ui/`` (FastAPI and uvicorn, imported only by this command).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mscrobot.cli.common import EXIT_BAD_INPUT, fail


def ui(
    runs: Annotated[Path, typer.Option("--runs", "--out", help="Folder holding the runs.")] = Path(
        "runs"
    ),
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on; any but the loopback needs the token printed at start."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="Read the token from this file instead of making one."),
    ] = None,
) -> None:
    """A local web app: runs and their spectra live, answer a question or stop a run."""
    from mscrobot.ui.server import make_guard, serve

    if not 0 < port < 65536:
        fail(f"--port must be 1 to 65535, not {port}", EXIT_BAD_INPUT)
    if not runs.is_dir():
        fail(f"no runs folder {runs} (give --runs DIR)", EXIT_BAD_INPUT)
    token = None
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            fail(f"{token_file}: cannot read the token: {exc.strerror or exc}", EXIT_BAD_INPUT)
        if len(token) < 16:
            fail(f"{token_file}: the token must be at least 16 characters", EXIT_BAD_INPUT)
    guard = make_guard(host, token)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    if guard.required_to_read:
        typer.echo(
            f"mscrobot ui: {runs}/ at {url}?token={guard.token}\n"
            "  every request needs that token; give the URL only to who may act on "
            "these runs",
            err=True,
        )
    else:
        typer.echo(f"mscrobot ui: {runs}/ at {url} (this machine only; Ctrl-C ends it)", err=True)
    try:
        serve(runs, host, port, guard)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_BAD_INPUT)
