"""``mscrobot protocol export``: a recipe's liquid handling as a standalone Opentrons protocol.

The exporter (which runs the recipe once on the twin to size the sampling rounds) is imported
inside the command, so the recipe tools never load it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mscrobot.cli.common import EXIT_BAD_INPUT, LabOption, fail, load_inputs

protocol_app = typer.Typer(help="Opentrons protocols from recipes.", no_args_is_help=True)

@protocol_app.command("export")
def export(
    recipe: Annotated[Path, typer.Argument(help="Recipe file (YAML).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Protocol file to write.")],
    lab: LabOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the dry run that sizes the rounds.")] = 0,
) -> None:
    """Write RECIPE's liquid handling as an Opentrons Python protocol (default lab:
    the simulated one, an OT-2) that pauses where mscrobot would stir, measure and decide."""
    from mscrobot.app.feasibility import check_lab
    from mscrobot.app.protocol_export import ExportError, export_protocol

    parsed, _, lab_config, _ = load_inputs(recipe, lab)
    problems = check_lab(lab_config, parsed)
    if problems:
        fail(f"lab '{lab_config.name}' cannot run recipe '{parsed.name}': "
              + "; ".join(problems), EXIT_BAD_INPUT)
    try:
        source = export_protocol(parsed, lab_config, seed)
    except ExportError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    try:
        output.write_text(source, encoding="utf-8")
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}", EXIT_BAD_INPUT)
    typer.echo(f"wrote {output}", err=True)

