"""``mscrobot run``, ``plan`` and ``runs …``: dry runs and lab runs from the command line.

Engine, lab and report modules are imported inside the commands, so ``mscrobot recipe …`` stays
fast. Output follows DESIGN.md §8: ``--json`` prints one document with stable keys; exit codes
0 ok, 1 run failed or stopped, 2 bad input; errors are one line on stderr.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mscrobot.cli_live import LiveView, stop_on_ctrl_c

if TYPE_CHECKING:
    from mscrobot.engine.runner import Event, RunEnd

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

runs_app = typer.Typer(help="Look at runs: list, show, report, export; answer the operator.",
                       no_args_is_help=True)

RunsDir = Annotated[Path, typer.Option("--out", help="Folder holding the runs.")]
LabOption = Annotated[str | None, typer.Option(
    "--lab", help="Lab config: a shipped lab's name or a YAML file (default: simulated, the "
    "twin with Opentrons-checked liquid handling; twin: without Opentrons, faster).")]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"mscrobot: {message}", err=True)
    raise typer.Exit(code)


def _load_inputs(recipe_path: Path, lab_ref: str | None) -> tuple[Any, str, Any, str]:
    from mscrobot.lab.config import LabError, load_lab
    from mscrobot.recipe import RecipeError, load_recipe

    try:
        loaded = load_recipe(recipe_path)
        lab, lab_text = load_lab(lab_ref)
    except (RecipeError, LabError) as exc:
        for p in exc.problems:
            typer.echo(str(p), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    return loaded.recipe, recipe_path.read_text(encoding="utf-8"), lab, lab_text


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
        if event.kind == "verdict" and event.step is not None:
            p = event.step.params()
            self.stage = p["stage"]
            self.verdict = f"{p['state']} → {p['action']}"
            if not self.quiet and self.live is None:
                self.console.print(f"[{event.lab_t / 60:6.1f} min] {p['stage']:<8} "
                                   f"{p['state']:<12} {p['action']:<20} "
                                   f"{'; '.join(p['reasons'])}", highlight=False,
                                   soft_wrap=True)
        elif event.kind == "retry" and not self.quiet:
            self.console.print(f"retrying step {event.n}: {event.message}", highlight=False,
                               soft_wrap=True)
        elif event.kind == "restore" and not self.quiet:
            self.console.print(f"before step {event.n}: {event.message}", highlight=False,
                               soft_wrap=True)
        self.refresh()


def _execute(info: Any, as_json: bool) -> None:
    from mscrobot.engine.runs import RunError, execute

    started = time.perf_counter()
    try:
        with stop_on_ctrl_c("mscrobot: stopping safely after the current step (Ctrl-C again "
                            "to abort at once)") as stop, _Display(info.id, as_json) as display:
            end = execute(info, display, stop)
    except RunError as exc:
        _fail(str(exc), EXIT_FAILED)
    wall = time.perf_counter() - started
    report = _report(info.path)
    _summarise(info.id, end, wall, report, as_json)


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


def _summarise(run_id: str, end: RunEnd, wall: float, report: Path | None,
               as_json: bool) -> None:
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
           "report": None if report is None else str(report)}
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        lines = [f"run {run_id}: {end.state}"
                 + ("" if end.pending is not None else f" ({end.reason})")]
        if forward is not None:
            lines.append(f"  exchange:      {forward.state} — {'; '.join(forward.reasons)}")
        if back is not None:
            lines.append(f"  back-exchange: {back.state} — {'; '.join(back.reasons)}")
        lines.append(f"  lab time {end.lab_t / 60:.1f} min in {wall:.1f} s wall "
                     f"({end.steps} steps" + (f", {end.replayed} replayed from the journal"
                                               if end.replayed else "") + ")")
        if report is not None:
            lines.append(f"  report: {report}")
        if end.state in ("stopped", "paused", "failed"):
            lines.append(f"  resume with: mscrobot run --resume {run_id}")
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
) -> None:
    """Run a recipe (default lab: the simulated one, a dry run in seconds), or resume a run."""
    if resume is None and recipe is not None and _prestart_robot(lab):
        from mscrobot.lab.opentrons import robot_process
        from mscrobot.report.html import preload

        preload()  # while the child imports Opentrons: the report needs it at the end
        try:
            _run(recipe, lab, seed, out, resume, as_json)
        finally:
            robot_process.discard()  # a refused run never took it
        return
    _run(recipe, lab, seed, out, resume, as_json)


def _prestart_robot(lab_ref: str | None) -> bool:
    """Fork the Opentrons engine's process first when the lab will run it in process, so its
    import overlaps the rest (mscrobot/lab/opentrons/robot_process.py)."""
    from mscrobot.lab.labs import lab_source

    where, text = lab_source(lab_ref)
    if text is None:
        try:
            text = Path(where).read_text(encoding="utf-8")
        except (OSError, ValueError):
            return False  # the lab is loaded (and refused with its reason) in the usual way
    from mscrobot.lab.opentrons import robot_process

    robot = robot_process.robot_for(text)
    if robot is None:
        return False
    robot_process.prestart(robot)
    return True


def _run(recipe: Path | None, lab: str | None, seed: int, out: Path, resume: str | None,
         as_json: bool) -> None:
    from mscrobot.engine.runs import RunError, create_run, find_run, load_run

    try:
        if resume is not None:
            if recipe is not None or lab is not None:
                _fail("--resume continues a run with its own recipe and lab; give no RECIPE "
                      "or --lab", EXIT_BAD_INPUT)
            info = load_run(find_run(resume, out))
        else:
            if recipe is None:
                _fail("give a RECIPE file, or --resume RUN", EXIT_BAD_INPUT)
            assert recipe is not None
            parsed, text, lab_config, lab_text = _load_inputs(recipe, lab)
            info = create_run(parsed, text, str(recipe), lab_config, lab_text, seed, out)
    except RunError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    if not as_json:
        typer.echo(f"run {info.id} → {info.path}", err=True)
    _execute(info, as_json)


def plan(
    recipe: Annotated[Path, typer.Argument(help="Recipe file (YAML).")],
    lab: LabOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
    = False,
) -> None:
    """Show the steps a recipe compiles to, volumes per vessel, deck use and a time estimate."""
    from mscrobot.engine.planview import PlanError, plan_view

    parsed, _, lab_config, _ = _load_inputs(recipe, lab)
    try:
        view = plan_view(parsed, lab_config)
    except PlanError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    if as_json:
        typer.echo(json.dumps(view, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{parsed.name}[/bold] on lab {lab_config.name}")
    steps = Table("#", "step", "repeats",
                  title="Steps (counted in a dry run on the twin, seed 0)")
    for i, s in enumerate(view["steps"], 1):
        steps.add_row(str(i), s["describe"], s["repeat"])
    console.print(steps)
    vols = Table("vessel", "deck", "holds (µL)", "gives/receives at most (µL)", title="Vessels")
    for v in view["vessels"]:
        worst = "—" if v["worst_case_ul"] is None else f"{v['worst_case_ul']:.0f}"
        vols.add_row(v["name"], v["deck"], f"{v['start_ul']:.0f}", worst)
    console.print(vols)
    est = view["time_estimate"]
    console.print(f"time: {est['expected_min']:.1f} min expected on the twin "
                  f"(seed 0), {est['max_min']:.0f} min at most by the recipe's limits")


def _runs_dir_ref(ref: str, out: Path) -> Path:
    from mscrobot.engine.runs import RunError, find_run

    try:
        return find_run(ref, out)
    except RunError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
        raise


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

    doc = run_summary(_runs_dir_ref(run_ref, out))
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    for key, value in doc.items():
        typer.echo(f"{key}: {json.dumps(value) if isinstance(value, dict | list) else value}")


@runs_app.command("report")
def runs_report(run_ref: Annotated[str, typer.Argument(metavar="RUN")],
                out: RunsDir = Path("runs")) -> None:
    """(Re)write the run's self-contained HTML report and print its path."""
    from mscrobot.report.html import write_report

    typer.echo(str(write_report(_runs_dir_ref(run_ref, out))))


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
        _fail(f"--format must be csv or jcamp, not {fmt!r}", EXIT_BAD_INPUT)
    files = export_run(path, fmt, output or path / "export")
    typer.echo(f"{len(files)} file{'s' * (len(files) != 1)} in {output or path / 'export'}")


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
    from mscrobot.engine.runs import RunError, resolve

    given = (("done", done), ("not-done", not_done), ("continue", cont), ("extend", extend),
             ("add_salt", add_salt), ("abort", abort))
    chosen = [name for name, on in given if on]
    if len(chosen) != 1:
        _fail("give exactly one of --done, --not-done, --continue, --extend, --add-salt, "
              "--abort", EXIT_BAD_INPUT)
    path = _runs_dir_ref(run_ref, out)
    try:
        waiting = resolve(path, step, chosen[0])
    except RunError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    if path.resolve().parent == out.resolve():
        ref = path.name + ("" if out == Path("runs") else f" --out {shlex.quote(str(out))}")
    else:
        ref = shlex.quote(str(path))
    typer.echo("answer recorded" + (f"; resume with `mscrobot run --resume {ref}`"
                                    if waiting else ""))
    campaign = path.resolve().parent.parent
    if path.resolve().parent.name == "runs" and (campaign / "campaign.yaml").is_file():
        typer.echo(f"it is a run of campaign {campaign.name}: `mscrobot campaign --resume "
                   f"{shlex.quote(str(campaign))}` takes it up with the campaign's other runs")


devices_app = typer.Typer(help="Talk to a lab's instruments.", no_args_is_help=True)


@devices_app.command("probe")
def devices_probe(lab: LabOption = None,
                  as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print each instrument's identity and state, or why it cannot be reached (reads only)."""
    from mscrobot.lab.config import LabError, load_lab
    from mscrobot.lab.probe import probe_lab

    try:
        config, _ = load_lab(lab)
    except LabError as exc:
        for p in exc.problems:
            typer.echo(str(p), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    found = probe_lab(config)
    if as_json:
        typer.echo(json.dumps({"lab": config.name, "devices": found}, indent=2))
    else:
        for d in found:
            where = f" at {d['url']}" if d.get("url") else ""
            state = d["state"]
            if isinstance(state, dict):
                state = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in state.items())
            if d["ok"]:
                typer.echo(f"{d['role']:<15} {d['backend']}{where}: {d['identity']} — {state}")
            else:
                typer.echo(f"{d['role']:<15} {d['backend']}{where}: unreachable — "
                           f"{d['error']}")
    raise typer.Exit(EXIT_OK if all(d["ok"] for d in found) else EXIT_FAILED)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("plan")(plan)
    app.add_typer(runs_app, name="runs")
    app.add_typer(devices_app, name="devices")
