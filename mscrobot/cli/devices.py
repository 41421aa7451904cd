"""``mscrobot devices probe``: each instrument's identity and state, reads only."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mscrobot.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    LabOption,
    fail,
    load_lab_or_exit,
)

devices_app = typer.Typer(help="Talk to a lab's instruments.", no_args_is_help=True)


@devices_app.command("probe")
def devices_probe(lab: LabOption = None,
                  as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print each instrument's identity and state, or why it cannot be reached (reads only)."""
    from mscrobot.app.probe import probe_lab

    config = load_lab_or_exit(lab)
    from mscrobot.app.lablock import LabBusyError

    try:
        found = probe_lab(config)
    except LabBusyError as exc:
        fail(f"not probing lab '{config.name}': {exc}", EXIT_FAILED)
    if as_json:
        typer.echo(json.dumps({"lab": config.name, "devices": found}, indent=2))
    else:
        for d in found:
            where = f" at {d['url']}" if d.get("url") else ""
            if d["ok"]:
                typer.echo(f"{d['role']:<15} {d['backend']}{where}: {d['identity']} — "
                           f"{_state_text(d['state'])}")
            elif d.get("state") is not None:
                typer.echo(f"{d['role']:<15} {d['backend']}{where}: {d['identity']} — "
                           f"{_state_text(d['state'])}")
                typer.echo(f"{'':<15} not ready: {d['error']}")
            else:
                typer.echo(f"{d['role']:<15} {d['backend']}{where}: unreachable — "
                           f"{d['error']}")
            for o in d.get("offsets") or []:
                v = o["vector"]
                typer.echo(f"{'':<15} offset {o['definitionUri']} in slot "
                           f"{o['location']['slotName']}: x {v['x']:+.2f} y {v['y']:+.2f} "
                           f"z {v['z']:+.2f} mm")
            for w in d.get("warnings") or []:
                typer.echo(f"{'':<15} warning: {w}")
    raise typer.Exit(EXIT_OK if all(d["ok"] for d in found) else EXIT_FAILED)


def _state_text(state: object) -> str:
    """A probe's state on one line: ``{"range_nm": [199.6, 800.2], "pixels": 2068}`` becomes
    ``range nm 199.6–800.2, pixels 2068`` (values are numbers, pairs of numbers or text)."""
    if not isinstance(state, dict):
        return str(state)
    return ", ".join(f"{k.replace('_', ' ')} {_value_text(v)}" for k, v in state.items())


def _value_text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | list | tuple):
        return str(value)
    if isinstance(value, list | tuple):
        return "–".join(map(_value_text, value))
    return f"{value:g}"

