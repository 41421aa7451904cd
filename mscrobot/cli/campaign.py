"""``mscrobot campaign``: many recipes on one lab's stir positions, robot and spectrometer.

Exit codes: 0 every run reached its end (a stalled run waiting for the operator is an end: a
screen expects some), 1 a run failed or the campaign was stopped (the message names the
``--resume`` command that goes on with it), 2 bad input (a bad file, a campaign folder that
cannot be found or read, FILE and ``--resume`` together, ``--lab`` on resume).
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mscrobot.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, fail
from mscrobot.cli.live import LiveView, stop_on_ctrl_c
from mscrobot.engine.events import EventKind

if TYPE_CHECKING:
    from mscrobot.app.runs import RunInfo
    from mscrobot.campaign.conductor import JobResult
    from mscrobot.campaign.loader import LoadedCampaign
    from mscrobot.campaign.record import Progress
    from mscrobot.engine.events import Event



class _Progress(LiveView):
    """One line per run: position, latest verdict, the run's own lab time."""

    def __init__(self, labels: list[str], quiet: bool) -> None:
        super().__init__(quiet)
        self.rows: list[dict[str, Any]] = [{"label": lb, "where": "waiting", "verdict": "—",
                                            "lab_t": 0.0} for lb in labels]

    def _render(self) -> Any:
        from rich.table import Table

        t = Table(title=f"campaign · wall {time.perf_counter() - self.start:.0f} s")
        for name in ("#", "run", "position", "verdict", "lab min"):
            t.add_column(name)
        for i, r in enumerate(self.rows):
            t.add_row(str(i), r["label"], r["where"], r["verdict"], f"{r['lab_t'] / 60:.1f}")
        return t

    def started(self, run: int, position: int, t: float) -> None:
        self.rows[run]["where"] = f"{position} (from {t / 60:.1f} min)"
        self.refresh()

    def event(self, run: int, event: Event) -> None:
        self.rows[run]["lab_t"] = event.lab_t
        if event.kind == EventKind.VERDICT and event.step is not None:
            p = event.step.params()
            self.rows[run]["verdict"] = f"{p['stage']} {p['state']}"
            self.refresh()

    def ended(self, result: JobResult) -> None:
        row = self.rows[result.index]
        out = result.value
        row["where"] = "error" if result.error else f"done at {result.end / 60:.1f} min"
        if not self.quiet and self.live is None:
            what = result.error or (f"{out.state}; exchange {out.forward}, back {out.back}"
                                    if out is not None else "")
            self.console.print(f"[{result.end / 60:6.1f} min] run {result.index} "
                               f"({row['label']}): {what}", highlight=False, soft_wrap=True)
        self.refresh()


def campaign(
    file: Annotated[Path | None, typer.Argument(
        help="Campaign file (YAML). Not with --resume.", show_default=False)] = None,
    resume: Annotated[str | None, typer.Option(
        "--resume", metavar="CAMPAIGN", help="Go on with a campaign that was stopped (Ctrl-C) or "
        "killed: its id in --out (or a unique prefix) or its folder. Runs that ended are not "
        "run again; unfinished runs resume from their journals, on their own stir position "
        "and lab; runs never started start.", show_default=False)] = None,
    lab: Annotated[str | None, typer.Option(
        "--lab", help="Lab config (overrides the campaign's): a shipped lab's name or a YAML "
        "file. Not with --resume: the runs keep the lab they were created with.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for campaign records.")]
    = Path("campaigns"),
    as_json: Annotated[bool, typer.Option("--json", help="One JSON summary on stdout.")]
    = False,
) -> None:
    """Run a campaign: its recipes scheduled over the lab's stir positions, robot arm and
    spectrometer (default lab: simulated, a dry run). Its record is kept up to date as runs end,
    so a stopped or killed campaign goes on with `mscrobot campaign --resume CAMPAIGN`."""
    from mscrobot.app.runs import RunError
    from mscrobot.campaign.record import run_campaign
    from mscrobot.campaign.report import write_campaign_report

    if file is not None and resume is not None:
        fail("give a campaign FILE or --resume CAMPAIGN, not both", EXIT_BAD_INPUT)
    if file is None and resume is None:
        fail("give a campaign FILE (or --resume CAMPAIGN to go on with one)", EXIT_BAD_INPUT)
    if resume is not None:
        loaded, path, infos, progress, summary = _resumed(resume, lab, out, as_json)
    else:
        assert file is not None
        loaded, path, infos = _created(file, lab, out, as_json)
        progress, summary = None, None
    command = resume_command(path, out)
    stopped = False
    if summary is None:
        try:
            with stop_on_ctrl_c("mscrobot: stopping every run safely after its current step "
                                f"(Ctrl-C again to abort at once); go on later with `{command}`"
                                ) as stop, _Progress([r.label for r in loaded.runs],
                                                     as_json) as view:
                for k, ended in (progress.ended if progress is not None else {}).items():
                    view.rows[k].update(where="ended before", lab_t=ended.lab_t,
                                        verdict=f"{ended.state}; exchange {ended.forward}")
                summary = run_campaign(loaded, path, infos, view.event, view.started,
                                       view.ended, stop, progress)
        except RunError as exc:
            fail(str(exc), EXIT_FAILED)
        except KeyboardInterrupt:
            fail(f"aborted at once (runs may stop mid-step; their journals say where); go on "
                  f"with `{command}`", EXIT_FAILED)
        stopped = stop.is_set()
    report: Path | None
    try:
        report = write_campaign_report(path)
    except OSError as exc:
        typer.echo(f"mscrobot: the campaign report could not be written: {exc}", err=True)
        report = None
    failed = [r for r in summary["runs"]
              if r["error"] or r["state"] not in ("completed", "awaiting_operator")]
    unfinished = summary["unfinished"]
    if as_json:
        typer.echo(json.dumps(_public(summary) | {
            "path": str(path), "report": str(report) if report else None,
            "resume": command if unfinished else None}, indent=2))
    else:
        _print_summary(summary, path, report)
    if unfinished:
        typer.echo(f"mscrobot: {len(unfinished)} of {len(summary['runs'])} runs unfinished "
                   f"({', '.join(map(str, unfinished))}); go on with `{command}`", err=True)
    waiting = [r for r in summary["runs"] if r["state"] == "awaiting_operator" and r["pending"]]
    if waiting and not as_json:
        from mscrobot.engine.runner import answer_flag

        runs = shlex.quote(str(path / "runs"))
        for r in waiting:
            p = r["pending"]
            typer.echo(f"mscrobot: run {r['index']} awaits the operator: `mscrobot runs resolve "
                       f"{r['id']} --out {runs} --step {p['step']} "
                       f"{'|'.join(answer_flag(c) for c in p['choices'])}`", err=True)
        typer.echo(f"mscrobot: then `{command}` takes the answered runs up again", err=True)
    raise typer.Exit(EXIT_FAILED if failed or stopped else EXIT_OK)


def resume_command(path: Path, out: Path) -> str:
    """The command that goes on with the campaign in ``path`` (made under ``out``)."""
    if path.parent == out:
        where = "" if out == Path("campaigns") else f" --out {shlex.quote(str(out))}"
        return f"mscrobot campaign --resume {shlex.quote(path.name)}{where}"
    return f"mscrobot campaign --resume {shlex.quote(str(path))}"


def _public(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without the schedule's long lists (they stay in summary.json)."""
    long = ("intervals", "steps")
    return {k: v for k, v in summary.items() if k not in long} | {
        "earlier": [{k: v for k, v in seg.items() if k not in long}
                    for seg in summary["earlier"]]}


def _created(file: Path, lab: str | None, out: Path, as_json: bool
             ) -> tuple[LoadedCampaign, Path, list[RunInfo]]:
    from mscrobot.app.runs import RunError
    from mscrobot.campaign.loader import CampaignError, load_campaign
    from mscrobot.campaign.record import create_campaign
    from mscrobot.lab.config import LabError

    try:
        loaded = load_campaign(file, lab)
    except (CampaignError, LabError) as exc:
        for p in exc.problems:
            typer.echo(str(p), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    for w in loaded.warnings:
        if not as_json:
            typer.echo(str(w), err=True)
    try:
        path, infos = create_campaign(loaded, out)
    except RunError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    if not as_json:
        typer.echo(f"campaign {path.name}: {len(infos)} runs on "
                   f"{loaded.campaign.resources.stir_positions} stir positions → {path}",
                   err=True)
    return loaded, path, infos


def _resumed(ref: str, lab: str | None, out: Path, as_json: bool
             ) -> tuple[LoadedCampaign, Path, list[RunInfo], Progress, dict[str, Any] | None]:
    """The campaign to go on with; with nothing left to run, its record brought up to date."""
    from mscrobot.app.runs import RunError
    from mscrobot.campaign.loader import CampaignError
    from mscrobot.campaign.record import write_record
    from mscrobot.campaign.resume import brought_up_to_date, find_campaign, load_resume

    if lab is not None:
        fail("--lab cannot be used with --resume: a campaign's runs keep the lab they were "
              "created with (each run folder holds it)", EXIT_BAD_INPUT)
    try:
        path = find_campaign(ref, out)
        loaded, infos, progress, record = load_resume(path)
    except RunError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except CampaignError as exc:
        for p in exc.problems:
            typer.echo(str(p), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    left = len(infos) - len(progress.ended)
    if not left:
        summary = brought_up_to_date(record, progress, loaded, infos)
        try:
            write_record(path, summary)
        except OSError as exc:
            fail(f"cannot write the campaign record in {path}: {exc.strerror or exc}",
                  EXIT_FAILED)
        if not as_json:
            typer.echo(f"campaign {path.name}: every run had ended; nothing to resume", err=True)
        return loaded, path, infos, progress, summary
    if not as_json:
        typer.echo(f"campaign {path.name}: resuming {left} of {len(infos)} runs "
                   f"({len(progress.reentries)} from their journals; "
                   f"{len(progress.ended)} ended before) → {path}", err=True)
    return loaded, path, infos, progress, None


def _print_summary(summary: dict[str, Any], path: Path, report: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"campaign {summary['campaign']}")
    for name in ("#", "salt", "Zn/cluster", "rpm", "pos", "exchange", "back", "transfer min",
                 "state"):
        table.add_column(name)
    for r in summary["runs"]:
        table.add_row(str(r["index"]), r["salt"], f"{r['equivalents']:.3g}",
                      f"{r['stir_rpm']:.0f}", str(r["position"]), r["forward"] or "—",
                      r["back"] or "—",
                      "—" if r["transfer_s"] is None else f"{r['transfer_s'] / 60:.1f}",
                      r["error"] or r["state"] or "")
    console.print(table)
    segment = (f"since resume {summary['segment']}: " if summary.get("segment") else "")
    console.print(f"{segment}makespan {summary['makespan_s'] / 60:.1f} min (lower bound "
                  f"{summary['lower_bound_s'] / 60:.1f} min) in {summary['wall_time_s']:.1f} s "
                  f"wall; record {path}" + (f"; report {report}" if report else ""),
                  highlight=False, soft_wrap=True)
    for t in summary.get("tips", []):
        if t["refills"]:
            console.print(f"tips: the {t['pipette']} ({t['mount']}) took {t['total']}; its racks "
                          f"hold {t['racks_hold']}: on one robot, refill them {t['refills']}×",
                          highlight=False, soft_wrap=True)

