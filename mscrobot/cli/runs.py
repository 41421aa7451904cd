"""``mscrobot runs …``: list, show, report and export runs; answer a run's operator question."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from mscrobot.cli.common import EXIT_BAD_INPUT, RunsDir, fail

runs_app = typer.Typer(help="Look at runs: list, show, report, export; answer the operator.",
                       no_args_is_help=True)


def _runs_dir_ref(ref: str, out: Path) -> Path:
    from mscrobot.app.runs import RunError, find_run

    try:
        return find_run(ref, out)
    except RunError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
        raise


@contextmanager
def _run_folder_errors(writing: str = "", where: Path | None = None, fix: str = ""
                       ) -> Iterator[None]:
    """A journal that cannot be read, or (when ``writing`` is said) files that cannot be
    written in ``where``, end the command with one line (exit 2) saying what to fix."""
    from mscrobot.report.data import UnreadableRunError

    try:
        yield
    except UnreadableRunError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except OSError as exc:
        if not writing:
            raise
        fail(f"cannot write {writing} in {where}: {exc.strerror or exc}; {fix}",
             EXIT_BAD_INPUT)


@runs_app.command("list")
def runs_list(out: RunsDir = Path("runs"),
              as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """All runs in the runs folder, newest last."""
    from mscrobot.report.summary import run_table

    rows = run_table(out)
    if as_json:
        typer.echo(json.dumps({"runs": rows}, indent=2))
        return
    if not rows:
        typer.echo(f"no runs in {out}/")
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table()
    table.add_column("id", no_wrap=True)
    for name in ("recipe", "state", "forward", "back", "lab min"):
        table.add_column(name)
    if not console.is_terminal:  # piped: a header, then one tab-separated line per run
        typer.echo("\t".join(["id", "recipe", "state", "forward", "back", "lab_min"]))
    for r in rows:
        state = r["state"] + (" (interrupted: resume it)" if r["state"] == "running"
                              and not r.get("live") else "")
        cells = [r["id"], str(r.get("recipe") or ""), state, str(r.get("forward") or ""),
                 str(r.get("back") or ""),
                 "" if r.get("lab_time_s") is None else f"{r['lab_time_s'] / 60:.1f}"]
        if console.is_terminal:
            table.add_row(*cells)
        else:  # piped: one tab-separated line per run, for grep and cut
            typer.echo("\t".join(cells))
    if console.is_terminal:
        console.print(table)


@runs_app.command("show")
def runs_show(run_ref: Annotated[str, typer.Argument(metavar="RUN")],
              out: RunsDir = Path("runs"),
              as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One run: state, verdicts, volumes, what it waits for."""
    from mscrobot.report.summary import run_summary

    path = _runs_dir_ref(run_ref, out)
    with _run_folder_errors():
        doc = run_summary(path)
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo(_show_text(doc))


def _show_text(doc: dict[str, object]) -> str:
    """``runs show`` for a person: what was run, how it ended, amounts, what it waits for."""
    def verdict(v: object) -> str:
        if not isinstance(v, dict):
            return "none yet"
        note = f" ({doc['verdict_note']})" if doc.get("verdict_note") else ""
        return (f"{v['state']}{note} → {v['action']} (step {v['step']}, "
                f"{(v['lab_time_s'] or 0) / 60:.1f} min): {'; '.join(v['reasons'])}")

    recipe = doc["recipe"] if isinstance(doc["recipe"], dict) else {}
    lab_min = float(doc["lab_time_s"] or 0.0) / 60  # type: ignore[arg-type]
    lines = [f"run {doc['id']}: {doc['state']}" + (f" ({doc['reason']})" if doc["reason"]
                                                    else ""),
             f"  recipe    {recipe.get('name')} ({recipe.get('source')})",
             f"  lab       {doc['lab']}, seed {doc['seed']}, created {doc['created']}",
             f"  progress  {lab_min:.1f} min of lab time, {doc['steps']} steps, "
             f"{doc['spectra']} sample spectra" + (" (running now)" if doc["live"] else ""),
             f"  exchange  {verdict(doc['forward'])}",
             f"  back      {verdict(doc['back'])}"]
    amounts = doc.get("amounts_text")
    if isinstance(amounts, dict) and amounts:
        lines.append("amounts:")
        lines += [f"  {k}: {v}" for k, v in amounts.items()]
    volumes = doc.get("volumes")
    if isinstance(volumes, dict):
        lines.append("volumes now (µL): " + ", ".join(f"{k} {v:.0f}" for k, v in volumes.items()))
    pending = doc.get("pending")
    if isinstance(pending, dict):
        lines.append(f"waiting for the operator at step {pending['step']}: "
                     f"{pending['question']}")
    warnings = doc.get("warnings") or []
    if warnings:
        lines.append("warnings:")
        lines += [f"  {w}" for w in warnings]  # type: ignore[union-attr]
    beyond = doc.get("beyond_the_paper") or []
    if beyond:
        lines.append("beyond the paper:")
        lines += [f"  {r['topic']}: {r['value']} ({r['source']})"  # type: ignore[index]
                  for r in beyond]  # type: ignore[union-attr]
    if doc.get("report"):
        lines.append(f"report: {doc['report']}")
    return "\n".join(lines)


@runs_app.command("report")
def runs_report(run_ref: Annotated[str, typer.Argument(metavar="RUN")],
                out: RunsDir = Path("runs")) -> None:
    """(Re)write the run's self-contained HTML report and print its path."""
    from mscrobot.report.html import write_report

    path = _runs_dir_ref(run_ref, out)
    with _run_folder_errors("the report", path, "make the run folder writable, or free space "
                            "there (`mscrobot runs export RUN -o DIR` writes the data elsewhere)"):
        typer.echo(str(write_report(path)))


@runs_app.command("export")
def runs_export(run_ref: Annotated[str, typer.Argument(metavar="RUN")],
                fmt: Annotated[str, typer.Option("--format", help="csv or jcamp")] = "csv",
                output: Annotated[Path | None, typer.Option("-o", "--output",
                                                            help="Folder (default: the run's "
                                                            "export/ folder).")] = None,
                out: RunsDir = Path("runs")) -> None:
    """Spectra (and verdicts, steps) as CSV with units in the headers, or JCAMP-DX files."""
    from mscrobot.report.export import export_run

    path = _runs_dir_ref(run_ref, out)
    if fmt not in ("csv", "jcamp"):
        fail(f"--format must be csv or jcamp, not {fmt!r}", EXIT_BAD_INPUT)
    dest = output or path / "export"
    with _run_folder_errors("the export", dest, "give -o DIR for a writable folder"):
        files = export_run(path, fmt, dest)
    typer.echo(f"{len(files)} file{'s' * (len(files) != 1)} in {dest}")


@runs_app.command("notebook")
def runs_notebook(run_ref: Annotated[str, typer.Argument(metavar="RUN")],
                  output: Annotated[Path | None, typer.Option(
                      "-o", "--output", help="Folder (default: the run's notebook/ folder).")]
                  = None,
                  out: RunsDir = Path("runs")) -> None:
    """A lab-notebook entry: entry.md to paste, entry.json, and the figures as PNG files."""
    from mscrobot.report.notebook import notebook_entry

    path = _runs_dir_ref(run_ref, out)
    dest = output or path / "notebook"
    with _run_folder_errors("the notebook entry", dest, "give -o DIR for a writable folder"):
        files = notebook_entry(path, dest)
    typer.echo(f"{files[0]} (and {len(files) - 1} more files in {dest})")


@runs_app.command("resolve")
def runs_resolve(
    run_ref: Annotated[str, typer.Argument(metavar="RUN")],
    step: Annotated[int, typer.Option("--step", help="The step waiting for an answer.")],
    done: Annotated[bool, typer.Option("--done", help="The interrupted step happened.")]
    = False,
    not_done: Annotated[bool, typer.Option("--not-done", help="It did not happen.")] = False,
    cont: Annotated[bool, typer.Option(
        "--continue", help="Stir one more sampling interval and judge again.")] = False,
    extend: Annotated[bool, typer.Option(
        "--extend", help="Grant the stall policy's extend rung of stirring time more.")]
    = False,
    add_salt: Annotated[bool, typer.Option(
        "--add-salt", help="Dose the stall policy's add-salt volume, then stir on.")] = False,
    abort: Annotated[bool, typer.Option(
        "--abort", help="End the run here, stirrer off (aborted by the operator).")] = False,
    out: RunsDir = Path("runs"),
) -> None:
    """The operator's answer for a step a run stopped at; then resume it."""
    from mscrobot.app.runs import RunError, resolve, resume_command

    given = (("done", done), ("not-done", not_done), ("continue", cont), ("extend", extend),
             ("add_salt", add_salt), ("abort", abort))
    chosen = [name for name, on in given if on]
    if len(chosen) != 1:
        fail("give exactly one of --done, --not-done, --continue, --extend, --add-salt, "
              "--abort", EXIT_BAD_INPUT)
    path = _runs_dir_ref(run_ref, out)
    try:
        waiting = resolve(path, step, chosen[0])
    except RunError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    typer.echo("answer recorded" + (f"; resume with `{resume_command(path)}`"
                                    if waiting else ""))
    campaign = path.resolve().parent.parent
    if path.resolve().parent.name == "runs" and (campaign / "campaign.yaml").is_file():
        typer.echo(f"it is a run of campaign {campaign.name}: `mscrobot campaign --resume "
                   f"{shlex.quote(str(campaign))}` takes it up with the campaign's other runs")

