"""The ``mscrobot`` command line: one module per command group, assembled in ``app``.

The CLI only presents: it parses options, calls ``mscrobot.app`` (which composes labs, runs and
reports) and prints. Entry point: ``mscrobot.cli:main``.
"""

from mscrobot.cli.app import app, main

__all__ = ["app", "main"]
