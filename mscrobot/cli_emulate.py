"""``mscrobot emulate …``: instruments as real processes on real byte streams (DESIGN.md §5).

Each emulator module adds its command to ``emulate_app`` here; device libraries are imported
inside the commands. Emulators bind 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import typer

emulate_app = typer.Typer(help="Run instrument emulators (stirrer, spectrometer) as processes.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(emulate_app, name="emulate")
