"""``mscrobot emulate …``: instruments as real processes on real byte streams (DESIGN.md §5).

Each emulator module adds its command to ``emulate_app`` here; device libraries are imported
inside the commands. Emulators bind 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

from typing import Annotated

import typer

emulate_app = typer.Typer(help="Run instrument emulators (stirrer, spectrometer, opentrons) as "
                          "processes.",
                          no_args_is_help=True)



@emulate_app.command("stirrer")
def stirrer(
    pty: bool = typer.Option(False, "--pty", help="serve on a new pseudo-terminal"),
    tcp: int | None = typer.Option(None, "--tcp", metavar="PORT",
                                   help="serve on TCP (0: any free port)"),
    host: str = typer.Option("127.0.0.1", help="address to bind with --tcp"),
    speed: float = typer.Option(1.0, help="emulated seconds per wall second (ramp, watchdog)"),
    pace: bool = typer.Option(True, help="pace bytes at 9600 baud, 10 bits per character"),
    faults: str = typer.Option("", help="fault plan, e.g. 'timeout:IN_PV_4@2x3,stall' "
                               "(see mscrobot/lab/stirrer/emulator.py)"),
    profile: str = typer.Option("ika-rct-basic", help="device profile: name in "
                                "hardware/devices/ or a path"),
    probe: bool = typer.Option(False, help="an external temperature probe is plugged in "
                               "(IN_PV_1 answers)"),
    heating: bool = typer.Option(False, help="start with the heater on (as an earlier user "
                                 "left it)"),
) -> None:
    """An IKA stirrer speaking NAMUR; prints the pty path or HOST:PORT on the first line."""
    from mscrobot.lab.stirrer.emulator import run
    from mscrobot.yamldoc import DocumentError

    try:
        run(pty=pty, tcp=tcp, host=host, speed=speed, pace=pace, faults=faults, profile=profile,
            probe=probe, heating=heating)
    except (ValueError, DocumentError, OSError) as e:
        typer.echo(f"mscrobot emulate stirrer: {e}", err=True)
        raise typer.Exit(2) from None


@emulate_app.command("spectrometer")
def spectrometer(
    tcp: int = typer.Option(..., "--tcp", metavar="PORT", help="TCP port (0: any free port)"),
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    speed: float = typer.Option(1.0, help="emulated seconds per wall second (integration)"),
    faults: str = typer.Option("", help="fault plan, e.g. 'timeout@3,garbage@5*2,saturate~0.1' "
                               "(see mscrobot/lab/spectrometer/obp_emulator.py)"),
    contents: str = typer.Option("blank", help="flow cell: blank | clusters"),
    recipe: str | None = typer.Option(None, help="recipe for cluster bands and solvents "
                                      "(default: the CdS34/ZnCl2 template)"),
    micromolar: float = typer.Option(20.0, help="cluster concentration with --contents clusters"),
    phase: str = typer.Option("nonpolar", help="solvent in the cell: nonpolar | polar"),
    seed: int = typer.Option(0, help="noise and fault seed"),
    acquisition: str = typer.Option("free-running", help="free-running (a request gets the "
                                    "next scan) | on-request (a request starts a scan)"),
    physics: int | None = typer.Option(None, "--physics", metavar="PORT",
                                       help="also take the flow cell's contents (and, for "
                                       "a lab without spectrometer.dark, the lamp shutter) "
                                       "from an emulated lab on this port"),
    shutter: int | None = typer.Option(None, "--shutter", metavar="PORT",
                                       help="the lamp's shutter on a TTL line: an RFC 2217 "
                                       "serial server on this port whose RTS (high) closes it"),
    nonlinear: float = typer.Option(0.0, help="detector nonlinearity a: it reads c/(1+a·c) "
                                    "and reports the coefficients that undo it (e.g. 1e-6)"),
) -> None:
    """An Ocean HDX speaking OBP over TCP; prints HOST:PORT on the first line, then
    'physics HOST:PORT' with --physics and 'shutter rfc2217://HOST:PORT' with --shutter."""
    from mscrobot.lab.spectrometer.obp_emulator import run

    try:
        run(tcp=tcp, host=host, speed=speed, faults=faults, contents=contents, recipe=recipe,
            micromolar=micromolar, phase=phase, seed=seed, acquisition=acquisition,
            physics=physics, shutter=shutter, nonlinear=nonlinear)
    except (ValueError, OSError) as e:
        typer.echo(f"mscrobot emulate spectrometer: {e}", err=True)
        raise typer.Exit(2) from None


@emulate_app.command("flame")
def flame(
    tcp: int = typer.Option(..., "--tcp", metavar="PORT", help="TCP port for its USB "
                            "transfers (0: any free port)"),
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    speed: float = typer.Option(1.0, help="emulated seconds per wall second (integration)"),
    contents: str = typer.Option("blank", help="flow cell: blank | clusters"),
    recipe: str | None = typer.Option(None, help="recipe for cluster bands and solvents"),
    seed: int = typer.Option(0, help="noise seed"),
    physics: int | None = typer.Option(None, "--physics", metavar="PORT",
                                       help="also take the flow cell's contents from an "
                                       "emulated lab on this port"),
    nonlinear: float = typer.Option(0.0, help="detector nonlinearity a (reads c/(1+a·c))"),
    lamp: str = typer.Option("line", help="line: the lamp follows the lamp-enable line | on: "
                             "always lit (for dark: electric_dark)"),
) -> None:
    """An Ocean FLAME-S on USB (OOI protocol: lamp-enable line, masked electric-dark pixels),
    its bulk transfers over TCP for a lab's ``spectrometer.usb_emulator``; prints HOST:PORT on
    the first line (and 'physics HOST:PORT' with --physics)."""
    from mscrobot.lab.spectrometer.ooi_emulator import run

    try:
        run(tcp=tcp, host=host, speed=speed, contents=contents, recipe=recipe, seed=seed,
            physics=physics, nonlinear=nonlinear, lamp=lamp)
    except (ValueError, OSError) as e:
        typer.echo(f"mscrobot emulate flame: {e}", err=True)
        raise typer.Exit(2) from None


@emulate_app.command("opentrons")
def opentrons(
    port: int = typer.Option(31950, "--port", help="TCP port (0: any free port)"),
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    robot: str = typer.Option("OT-2", help="OT-2 | Flex"),
    version: str = typer.Option("8.8.2", "--version",
                                help="robot software whose answers to serve: 8.1.0 | 8.8.2"),
    pipette: Annotated[list[str] | None, typer.Option(
        "--pipette", help="an attached pipette, MOUNT=NAME (repeat; default: OT-2 "
        "left=p1000_single_gen2 right=p300_single_gen2, as the shipped labs; Flex "
        "left=p1000_single_flex right=p50_single_flex)")] = None,
    stop_time: float = typer.Option(0.3, "--stop-time",
                                    help="seconds a stop takes to finish"),
    faults: str = typer.Option("", help="fault plan, e.g. 'busy' or 'drop@3,slow@5' "
                               "(see mscrobot/lab/opentrons/emulator.py)"),
) -> None:
    """The Opentrons robot's HTTP API (what an orchestrator uses) over Opentrons' own engine
    on simulated hardware, answering as the robot's server does; prints HOST:PORT on the
    first line, and on stderr each pick-up onto a tip the robot's software forgot."""
    if robot not in ("OT-2", "Flex"):
        typer.echo(f"mscrobot emulate opentrons: unknown robot {robot!r} (OT-2, Flex)",
                   err=True)
        raise typer.Exit(2)
    from mscrobot.lab.opentrons.emulator import VERSIONS, Faults, parse_pipettes, run

    try:
        Faults.parse(faults)
        if version not in VERSIONS:
            raise ValueError(f"unknown robot software {version!r} ({', '.join(VERSIONS)})")
        run(port=port, host=host, robot=robot, faults=faults, version=version,
            pipettes=parse_pipettes(pipette) if pipette else None, stop_s=stop_time)
    except (ValueError, OSError) as e:
        typer.echo(f"mscrobot emulate opentrons: {e}", err=True)
        raise typer.Exit(2) from None
