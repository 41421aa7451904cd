"""The ``exchange`` flow: one recipe as a Prefect flow around the engine, which does the work.

Prefect adds what the core leaves to its caller: retries, artifacts, and a pause for the operator
answered from the Prefect UI or API. The engine stays the only code that touches the lab, and the
run folder is an ordinary one (``mscrobot runs show``, ``mscrobot run --resume``).

- ``prepare``: validate the recipe and the lab, create the run folder.
- one task per stage of the plan (``setup``, ``forward``, ``back`` when the recipe has the
  back-exchange): each executes (or resumes: the same thing) the run until the end of its stage,
  where the engine pauses it (``until_stage``), and the next task resumes it from its journal.
  The engine already retries a transient device error three times; if the run still failed on
  one, Prefect retries the task, which resumes the run. A device fault or a refusal is never
  retried (``retry_condition_fn``). A run that ends early (an exchange that never completes, an
  operator's abort) skips the stages left.
- operator: when the run asks, the flow pauses for a typed ``OperatorAnswer`` (continue /
  extend / add_salt / abort) with a timeout, records it in the journal as ``mscrobot runs
  resolve`` would (an answer the question refuses is logged and asked again), and runs the
  stage's task again. Unanswered past the timeout, the flow run fails and the run waits, safe,
  for ``mscrobot runs resolve`` and ``mscrobot run --resume``.
- ``report``: the HTML report; artifacts: the verdicts as a table, the report's spectra plot,
  a link to the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput

from mscrobot.app.runs import RunError, create_run, execute, load_run, resolve
from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.engine.runner import answer_flag
from mscrobot.lab.config import load_lab
from mscrobot.procedure.plan import recipe_stages
from mscrobot.recipe.loader import load_recipe


class TransientRunError(Exception):
    """The run stopped on a transient device error (after the engine's own retries)."""


class RunFailedError(Exception):
    """The run failed on a device fault or refusal: retrying cannot help."""


class OperatorTimeoutError(Exception):
    """Nobody answered the run's question in time; the run waits, safe, for ``runs resolve``.

    Past a pause's timeout the Prefect server fails the flow run itself ("… and never
    resumed"), so this error's message (how to answer from the command line) is in the log."""


class OperatorAnswer(RunInput):
    """What the operator decides for a run that asks (a stall, an unreadable vial)."""

    answer: Literal["continue", "extend", "add_salt", "abort"]
    note: str = ""


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Retry condition: only a run that failed on a transient device error is retried."""
    try:
        state.result()
    except TransientRunError:
        return True
    except Exception:
        return False
    return False


@task(name="prepare")
def prepare(recipe: str, lab: str | None, seed: int, out: str) -> str:
    loaded = load_recipe(recipe)
    config, lab_text = load_lab(lab)
    info = create_run(loaded.recipe, Path(recipe).read_text(encoding="utf-8"), recipe, config,
                      lab_text, seed, Path(out))
    return str(info.path)


@task(name="stage", retries=2, retry_delay_seconds=1, retry_condition_fn=transient_only,
      cache_policy=NO_CACHE)
def run_stage(run_path: str, stage: str) -> dict[str, Any]:
    """The run to the end of ``stage`` (or its end, or a question for the operator)."""
    end = execute(load_run(Path(run_path)), until_stage=stage)
    if str(end.state) == "failed":
        if "TransientDeviceError" in end.reason:
            raise TransientRunError(end.reason)
        raise RunFailedError(end.reason)
    return {"state": str(end.state), "reason": end.reason, "pending": end.pending,
            "lab_time_s": end.lab_t, "stage": end.stage}


@task(name="report", cache_policy=NO_CACHE)
def report(run_path: str) -> str:
    from mscrobot.report.html import write_report_figures

    path = Path(run_path)
    target, figures = write_report_figures(path)
    journal = Journal(path / JOURNAL_NAME)
    try:
        verdicts = journal.verdicts()
    finally:
        journal.close()
    create_table_artifact(
        [{"step": v["step"], "stage": v["stage"], "state": v["state"], "action": v["action"],
          "lab_min": round(v["lab_t"] / 60, 2), "reasons": "; ".join(v["reasons"])}
         for v in verdicts], key="verdicts", description=f"verdicts of run {path.name}")
    # the UI renders a markdown image from a data URI; an image artifact needs a public URL
    spectra = figures.get("spectra")
    create_markdown_artifact(
        f"### Spectra of run {path.name}\n\n"
        + (f"![spectra of both phases over time](data:image/png;base64,{spectra})"
           if spectra else "No spectra recorded yet.")
        + f"\n\nThe full report: `{target.resolve()}`", key="spectra",
        description=f"spectra of run {path.name}, as in its report")
    create_link_artifact(target.resolve().as_uri(), link_text=f"report of run {path.name}",
                         key="report")
    return str(target)


def _operator(run_path: str, pending: dict[str, Any], timeout_s: int, poll_s: int) -> None:
    """Pause until the operator gives an answer the run's question takes; journal it."""
    logger = get_run_logger()
    step, offered = pending["step"], pending["choices"]
    question = OperatorAnswer.with_initial_data(
        description=f"Run {Path(run_path).name} waits at step {step}: {pending['question']}\n\n"
                    f"Answers this question takes: {', '.join(offered)}.")
    while True:
        try:
            given = pause_flow_run(wait_for_input=question, timeout=timeout_s,
                                   poll_interval=poll_s)
        except FlowPauseTimeout:
            raise OperatorTimeoutError(
                f"no operator answer within {timeout_s} s; run {Path(run_path).name} waits "
                f"at step {step} with the stirrer off: `mscrobot runs resolve "
                f"{Path(run_path).name} --step {step} "
                f"{'|'.join(answer_flag(c) for c in offered)}`, then `mscrobot run --resume "
                f"{Path(run_path).name}`") from None
        try:
            resolve(Path(run_path), step, given.answer, given.note)
        except RunError as e:
            logger.error("answer refused, asking again: %s", e)
            continue
        logger.info("operator answered %s%s", given.answer,
                    f" ({given.note})" if given.note else "")
        return


@flow(name="exchange")
def exchange(recipe: str, lab: str | None = None, seed: int = 0, out: str = "runs",
             operator_timeout_s: int = 3600, poll_s: int = 10) -> dict[str, Any]:
    """One recipe on one lab, to its end, a task per stage; pauses for the operator when the
    run asks."""
    logger = get_run_logger()
    run_path = prepare(recipe, lab, seed, out)
    result: dict[str, Any] = {}
    stages = recipe_stages(load_run(Path(run_path)).recipe)
    ran: list[str] = []
    try:
        for stage in stages:
            stage_task = run_stage.with_options(name=stage)
            result = stage_task(run_path, stage)
            ran.append(stage)
            while result["pending"] is not None:
                pending = result["pending"]
                logger.info("run waits for the operator at step %s: %s", pending["step"],
                            pending["question"])
                if set(pending["choices"]) <= {"done", "not-done"}:
                    break  # an interrupted dispense: the operator checks the vessel
                _operator(run_path, pending, operator_timeout_s, poll_s)
                result = stage_task(run_path, stage)
            if result["state"] != "paused":
                break  # the run ended (or waits for `runs resolve`): no later stage runs
    finally:
        result["report"] = report(run_path)
    result["run"] = run_path
    result["stages"] = ran
    return result
