"""``mscrobot run``: a recipe as a run on a lab (a dry run in seconds on the simulated lab), or
a run resumed from its journal, with live progress and a summary.

Engine, lab and report modules are imported inside the command, so ``mscrobot recipe …`` stays
fast. ``--json`` prints one document with stable keys; exit codes 0 ok, 1 run failed or stopped,
2 bad input.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mscrobot.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    LabOption,
    RunsDir,
    fail,
    load_inputs,
)
from mscrobot.cli.live import LiveView, stop_on_ctrl_c
from mscrobot.engine.events import EventKind

if TYPE_CHECKING:
    from mscrobot.engine.events import Event
    from mscrobot.engine.runner import RunEnd


class _Display(LiveView):
    """Live progress: stage, last verdict, step, lab time against wall time."""

    refresh_per_second = 8

    def __init__(self, run_id: str, quiet: bool) -> None:
        super().__init__(quiet)
        self.run_id = run_id
        self.stage, self.verdict, self.step, self.lab_t = "prepare", "—", "", 0.0

    def _render(self) -> Any:
        from rich.table import Table

        wall = time.perf_counter() - self.start
        t = Table.grid(padding=(0, 2))
        t.add_row("run", self.run_id)
        t.add_row("stage", self.stage)
        t.add_row("verdict", self.verdict)
        t.add_row("step", self.step)
        t.add_row("time", f"lab {self.lab_t / 60:.1f} min · wall {wall:.1f} s")
        return t

    def __call__(self, event: Event) -> None:
        self.lab_t = event.lab_t
        if event.step is not None:
            self.step = f"{event.n}: {event.step.describe()}"
        if event.kind == EventKind.VERDICT and event.step is not None:
            p = event.step.params()
            self.stage = p["stage"]
            self.verdict = f"{p['state']} → {p['action']}"
            if not self.quiet and self.live is None:
                self.console.print(f"[{event.lab_t / 60:6.1f} min] {p['stage']:<8} "
                                   f"{p['state']:<12} {p['action']:<20} "
                                   f"{'; '.join(p['reasons'])}", highlight=False,
                                   soft_wrap=True)
        elif event.kind == EventKind.RETRY and not self.quiet:
            self.console.print(f"retrying step {event.n}: {event.message}", highlight=False,
                               soft_wrap=True)
        elif event.kind == EventKind.STATE and "in the browser" in event.message \
                and not self.quiet:
            self.console.print(f"[{event.lab_t / 60:6.1f} min] {event.message}; Ctrl-C "
                               "leaves the question in the journal", highlight=False,
                               soft_wrap=True)
        elif event.kind == EventKind.RESTORE and not self.quiet:
            self.console.print(f"before step {event.n}: {event.message}", highlight=False,
                               soft_wrap=True)
        self.refresh()


def _execute(info: Any, as_json: bool) -> None:
    from mscrobot.app.runs import RunError, execute

    started = time.perf_counter()
    try:
        with stop_on_ctrl_c("mscrobot: stopping safely after the current step (Ctrl-C again "
                            "to abort at once)") as stop, _Display(info.id, as_json) as display:
            end = execute(info, display, stop)
    except RunError as exc:
        fail(str(exc), EXIT_FAILED)
    wall = time.perf_counter() - started
    report = _report(info.path)
    _summarise(info.id, info.path, end, wall, report, as_json)


def _report(path: Path) -> Path | None:
    """Write the run's report; a report that cannot be written never hides the run's result."""
    from mscrobot.report.data import UnreadableRunError
    from mscrobot.report.html import write_report

    try:
        return write_report(path)
    except (UnreadableRunError, OSError) as exc:
        typer.echo(f"mscrobot: the report could not be written: {exc} "
                   f"(retry with `mscrobot runs report {path.name}`)", err=True)
        return None


def _verdict_note(path: Path) -> str:
    """What the run's verdicts rest on beyond the paper ('' when nothing), from its journal."""
    from mscrobot.engine.journal import JOURNAL_NAME, Journal
    from mscrobot.report.chemistry import chemistry_of

    journal = Journal(path / JOURNAL_NAME)
    try:
        return chemistry_of(journal.meta()).verdict_note()
    finally:
        journal.close()


def _summarise(run_id: str, path: Path, end: RunEnd, wall: float, report: Path | None,
               as_json: bool) -> None:
    from mscrobot.app.runs import resume_command

    said = _verdict_note(path)
    note = f" ({said})" if said else ""

    forward = end.result.forward[-1] if end.result and end.result.forward else None
    back = end.result.back[-1] if end.result and end.result.back else None
    ok = (end.state == "completed" and end.result is not None and end.result.end == "finished"
          and forward is not None and forward.state == "complete"
          and (back is None or back.state == "complete"))
    doc = {"id": run_id, "state": str(end.state), "reason": end.reason,
           "forward": None if forward is None else forward.as_dict(),
           "back": None if back is None else back.as_dict(),
           "lab_time_s": end.lab_t, "wall_time_s": wall, "steps": end.steps,
           "replayed_steps": end.replayed, "pending": end.pending,
           "report": None if report is None else str(report), "verdict_note": said}
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        lines = [f"run {run_id}: {end.state}"
                 + ("" if end.pending is not None else f" ({end.reason})")]
        if forward is not None:
            lines.append(f"  exchange:      {forward.state}{note} — {'; '.join(forward.reasons)}")
        if back is not None:
            lines.append(f"  back-exchange: {back.state}{note} — {'; '.join(back.reasons)}")
        lines.append(f"  lab time {end.lab_t / 60:.1f} min in {wall:.1f} s wall "
                     f"({end.steps} steps" + (f", {end.replayed} replayed from the journal"
                                               if end.replayed else "") + ")")
        if report is not None:
            lines.append(f"  report: {report}")
        if end.state in ("stopped", "paused", "failed"):
            lines.append(f"  resume with: {resume_command(path)}")
        if end.pending is not None:
            lines.append(f"  waiting for the operator: {end.pending['question']}")
        typer.echo("\n".join(lines))
    raise typer.Exit(EXIT_OK if ok else EXIT_FAILED)


def run(
    recipe: Annotated[Path | None, typer.Argument(help="Recipe file (YAML).")] = None,
    lab: LabOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated lab's random streams.")] = 0,
    out: RunsDir = Path("runs"),
    resume: Annotated[str | None, typer.Option("--resume", help="Continue this run (id).")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON summary on stdout.")]
    = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Run on the lab file as written with every device simulated (its "
        "deck, pipettes, labware and timings; no port is opened).")] = False,
) -> None:
    """Run a recipe (default lab: the simulated one, a dry run in seconds), or resume a run."""
    if dry_run and resume is not None:
        fail("--dry-run makes a new run; a resumed run keeps its own lab", EXIT_BAD_INPUT)
    if resume is None and recipe is not None and _prestart_robot(lab, dry_run):
        from mscrobot.lab.opentrons import robot_process
        from mscrobot.report.html import preload

        preload()  # while the child imports Opentrons: the report needs it at the end
        try:
            _run(recipe, lab, seed, out, resume, as_json, dry_run)
        finally:
            robot_process.discard()  # a refused run never took it
        return
    _run(recipe, lab, seed, out, resume, as_json, dry_run)


#: mscrobot.yamldoc.MAX_BYTES, not imported: that would load pydantic before the fork.
_PEEK_BYTES = 1 << 20


def _prestart_robot(lab_ref: str | None, dry_run: bool = False) -> bool:
    """Fork the Opentrons engine's process first when the lab will run it in process, so its
    import overlaps the rest (mscrobot/lab/opentrons/robot_process.py)."""
    from mscrobot.lab.labs import lab_source

    where, text = lab_source(lab_ref)
    if text is None:
        # Only a plain file of document size is peeked at: a pipe can be read only once (by
        # load_lab), and a device or a huge file is refused there with its reason.
        try:
            if not Path(where).is_file() or Path(where).stat().st_size > _PEEK_BYTES:
                return False
            text = Path(where).read_text(encoding="utf-8")
        except (OSError, ValueError):
            return False  # the lab is loaded (and refused with its reason) in the usual way
    from mscrobot.lab.opentrons import robot_process

    if dry_run:  # the robot becomes the in-process engine, wherever the file points
        text = re.sub(r"(?m)^(\s*robot:\s*)https?://\S+", r"\1simulate", text)
    robot = robot_process.robot_for(text)
    if robot is None:
        return False
    robot_process.prestart(robot)
    return True


def _run(recipe: Path | None, lab: str | None, seed: int, out: Path, resume: str | None,
         as_json: bool, dry_run: bool = False) -> None:
    from mscrobot.app.runs import RunError, create_run, find_run, load_run

    try:
        if resume is not None:
            if recipe is not None or lab is not None:
                fail("--resume continues a run with its own recipe and lab; give no RECIPE "
                      "or --lab", EXIT_BAD_INPUT)
            info = load_run(find_run(resume, out))
        else:
            if recipe is None:
                fail("give a RECIPE file, or --resume RUN", EXIT_BAD_INPUT)
            assert recipe is not None
            parsed, text, lab_config, lab_text = load_inputs(recipe, lab)
            if dry_run:
                from mscrobot.app.drylab import dry_counterpart
                from mscrobot.app.drylab import lab_text as dry_text

                lab_config = dry_counterpart(lab_config)
                lab_text = dry_text(lab_config)
            info = create_run(parsed, text, str(recipe), lab_config, lab_text, seed, out)
    except RunError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    if not as_json:
        typer.echo(f"run {info.id} → {info.path}", err=True)
        if resume is None:
            _print_chemistry(info.path)
    _execute(info, as_json)


def _print_chemistry(path: Path) -> None:
    """What the run starts with, on stderr: its amounts, the recipe check's warnings and what
    it relies on beyond the paper (the same as its report's, from its journal)."""
    from mscrobot.engine.journal import JOURNAL_NAME, Journal
    from mscrobot.recipe.amounts import describe
    from mscrobot.report.chemistry import chemistry_of

    journal = Journal(path / JOURNAL_NAME)
    try:
        chem = chemistry_of(journal.meta())
    finally:
        journal.close()
    lines = ["  " + line for line in describe(chem.amounts)] if chem.amounts else []
    lines += [f"  {w}" for w in chem.warnings]
    if chem.beyond:
        lines.append("  beyond the paper: " + "; ".join(
            f"{r.topic} {r.value} ({r.source})" for r in chem.beyond))
    if chem.simulated:
        lines.append("  a dry run: the twin's kinetics are assumed")
    typer.echo("\n".join(lines), err=True)

