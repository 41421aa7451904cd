"""``mscrobot lab``: what a lab keeps beside its file: labware offsets, the tips in its racks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mscrobot.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, LabOption, fail, load_lab_or_exit

lab_app = typer.Typer(help="A lab's labware offsets and tip inventory.", no_args_is_help=True)
offsets_app = typer.Typer(help="Labware offsets (Labware Position Check).", no_args_is_help=True)
lab_app.add_typer(offsets_app, name="offsets")


def _lab_file(lab: str | None) -> Path:
    path = Path(lab) if lab else None
    if path is None or not path.is_file():
        fail(
            "offsets are written into a lab file: give --lab PATH (a shipped lab is not "
            "edited; copy one from hardware/labs/)",
            EXIT_BAD_INPUT,
        )
    return path


@offsets_app.command("import")
def offsets_import(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="The offsets as JSON: Labware Position Check's labware offset data, a run's "
            "or a robot's answer."
        ),
    ] = None,
    lab: LabOption = None,
    from_robot: Annotated[
        bool, typer.Option("--from-robot", help="Read them from the lab's robot instead of a file.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the lab file's new offsets block, write nothing."),
    ] = False,
) -> None:
    """Bring measured labware offsets into the lab file's ``offsets:`` block."""
    from mscrobot.app.offsets import (
        OffsetImportError,
        import_offsets,
        offsets_block,
        read_offsets,
        robot_offsets,
    )
    from mscrobot.lab.config import LabError, lab_from_text

    path = _lab_file(lab)
    try:
        if from_robot:
            robot = lab_from_text(path.read_text(encoding="utf-8"), str(path)).liquid_handler
            if robot.backend != "opentrons" or robot.robot == "simulate":
                fail(
                    f"{path}: the lab has no robot to read offsets from (liquid_handler."
                    "robot is not an address)",
                    EXIT_BAD_INPUT,
                )
            data, source = robot_offsets(robot.robot)
        elif file is not None:
            data, source = read_offsets(file), str(file)
        else:
            fail("give the offsets file, or --from-robot", EXIT_BAD_INPUT)
        _, taken, skipped = import_offsets(path, data, source, write=not dry_run)
    except LabError as exc:
        for p in exc.problems:
            typer.echo(str(p), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except OffsetImportError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    for why in skipped:
        typer.echo(f"left out: {why}", err=True)
    if dry_run:
        typer.echo(offsets_block(taken, source), nl=False)
        return
    typer.echo(f"{path}: {len(taken)} labware offset(s) from {source}")
    for o in taken:
        typer.echo(f"  {o.labware} in slot {o.slot}: x {o.x:+.2f} y {o.y:+.2f} z {o.z:+.2f} mm")
    if not taken:
        raise typer.Exit(EXIT_FAILED)


@lab_app.command("tips")
def tips(
    lab: LabOption = None,
    refill: Annotated[
        list[str] | None,
        typer.Option("--refill", help="The rack in this slot was refilled (repeat for several)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the tips left in each rack of the lab's robot, or record racks refilled."""
    import json

    from mscrobot.app.lablock import LabBusyError, hold_lab
    from mscrobot.app.tips import inventory
    from mscrobot.app.tips import refill as refill_rack
    from mscrobot.lab.protocols import LabRefusalError

    config = load_lab_or_exit(lab)
    try:
        if refill:
            with hold_lab(config, "tips", "lab tips --refill"):  # never under a running run
                for slot in refill:
                    rack = refill_rack(config, slot)
                    typer.echo(f"slot {slot}: {rack.labware} refilled, {rack.capacity} tips")
        stock, racks = inventory(config)
    except LabBusyError as exc:
        fail(f"not changing lab '{config.name}': {exc}", EXIT_FAILED)
    except LabRefusalError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    pipettes = config.liquid_handler.pipettes
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "lab": config.name,
                    "inventory": None if stock is None else str(stock.path),
                    "racks": [
                        {
                            "mount": m,
                            "pipette": pipettes[m].name,
                            "slot": r.slot,  # type: ignore[index]
                            "labware": r.labware,
                            "capacity": r.capacity,
                            "used": r.used,
                            "left": r.left,
                            "refilled": r.refilled,
                        }
                        for m, rs in racks.items()
                        for r in rs
                    ],
                },
                indent=2,
            )
        )
        return
    if stock is None:
        typer.echo(
            f"lab '{config.name}': its robot runs in process; every run starts with "
            "full racks (no inventory kept)"
        )
    else:
        typer.echo(f"lab '{config.name}', robot {stock.robot} (inventory {stock.path})")
    for mount, rs in racks.items():
        for r in rs:
            since = f", refilled {r.refilled}" if r.refilled else ""
            typer.echo(
                f"  {mount:<5} {pipettes[mount].name:<18} slot {r.slot:<3} "  # type: ignore[index]
                f"{r.labware}: {r.left} of {r.capacity} left{since}"
            )
