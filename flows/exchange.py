"""The ``exchange`` flow: one recipe as a Prefect flow around the engine, which does the work.

Prefect adds what the core leaves to its caller: retries, artifacts, and a pause for the operator
answered from the Prefect UI or API. The engine stays the only code that touches the lab, and the
run folder is an ordinary one (``mscrobot runs show``, ``mscrobot run --resume``).

- ``prepare``: validate the recipe and the lab, create the run folder.
- ``execute``: run (or resume: the same thing) until the run ends or needs the operator. The
  engine already retries a transient device error three times; if the run still failed on one,
  Prefect retries the task, which resumes the run from its journal. A device fault or a refusal
  is never retried (``retry_condition_fn``).
- operator: when the run waits for an answer, the flow pauses for a typed ``OperatorAnswer``
  (continue / finish) with a timeout, records it in the journal as ``mscrobot runs resolve``
  would, and resumes the run.
- ``report``: the HTML report; artifacts: the verdicts as a table, a link to the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput

from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.engine.runs import create_run, execute, load_run, resolve
from mscrobot.lab.config import load_lab
from mscrobot.recipe.loader import load_recipe


class TransientRunError(Exception):
    """The run stopped on a transient device error (after the engine's own retries)."""


class RunFailedError(Exception):
    """The run failed on a device fault or refusal: retrying cannot help."""


class OperatorAnswer(RunInput):
    """What the operator decides for a run that asks (a stall, an unreadable vial)."""

    answer: Literal["continue", "finish"]
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


@task(name="execute", retries=2, retry_delay_seconds=1, retry_condition_fn=transient_only)
def run_engine(run_path: str) -> dict[str, Any]:
    end = execute(load_run(Path(run_path)))
    if str(end.state) == "failed":
        if "TransientDeviceError" in end.reason:
            raise TransientRunError(end.reason)
        raise RunFailedError(end.reason)
    return {"state": str(end.state), "reason": end.reason, "pending": end.pending,
            "lab_time_s": end.lab_t}


@task(name="report")
def report(run_path: str) -> str:
    from mscrobot.report.html import write_report

    path = Path(run_path)
    target = write_report(path)
    journal = Journal(path / JOURNAL_NAME)
    try:
        verdicts = journal.verdicts()
    finally:
        journal.close()
    create_table_artifact(
        [{"step": v["step"], "stage": v["stage"], "state": v["state"], "action": v["action"],
          "lab_min": round(v["lab_t"] / 60, 2), "reasons": "; ".join(v["reasons"])}
         for v in verdicts], key="verdicts", description=f"verdicts of run {path.name}")
    create_link_artifact(target.resolve().as_uri(), link_text=f"report of run {path.name}",
                         key="report")
    return str(target)


@flow(name="exchange")
def exchange(recipe: str, lab: str | None = None, seed: int = 0, out: str = "runs",
             operator_timeout_s: int = 3600, poll_s: int = 10) -> dict[str, Any]:
    """One recipe on one lab, to its end; pauses for the operator when the run asks."""
    logger = get_run_logger()
    run_path = prepare(recipe, lab, seed, out)
    result = run_engine(run_path)
    while result["pending"] is not None:
        pending = result["pending"]
        logger.info("run waits for the operator at step %s: %s", pending["step"],
                    pending["question"])
        if "continue" not in pending["choices"]:
            break  # an interrupted dispense: the operator checks the vessel (`runs resolve`)
        answer = pause_flow_run(wait_for_input=OperatorAnswer, timeout=operator_timeout_s,
                                poll_interval=poll_s)
        resolve(Path(run_path), pending["step"], answer.answer)
        logger.info("operator answered %s%s", answer.answer,
                    f" ({answer.note})" if answer.note else "")
        result = run_engine(run_path)
    result["report"] = report(run_path)
    result["run"] = run_path
    return result
