"""The exchange flow against a real Prefect server (a subprocess on 127.0.0.1, temporary DB),
on the twin lab: a task per stage, artifacts, operator answers through the API, retries."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.exceptions import FailedRun
from prefect.flow_runs import resume_flow_run

from flows.exchange import (
    RunFailedError,
    TransientRunError,
    exchange,
)
from mscrobot.engine.journal import JOURNAL_NAME, Journal
from mscrobot.lab.config import shipped_labs

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


async def _task_runs(flow_run_id: Any) -> list[Any]:
    async with get_client() as client:
        return await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


async def _artifacts(flow_run_id: Any) -> list[Any]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
                any_=[flow_run_id])))


def _lab(tmp_path: Path, old: str, new: str) -> str:
    path = tmp_path / "lab.yaml"
    text = shipped_labs()["twin"]
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return str(path)


def _journal(run: str) -> Journal:
    return Journal(Path(run) / JOURNAL_NAME)


def test_reference_recipe_runs_a_task_per_stage_with_artifacts(server: None,
                                                               tmp_path: Path) -> None:
    state = exchange(str(ROOT / "recipes" / "cds34-zncl2.yaml"), lab="twin", out=str(tmp_path),
                     return_state=True)
    result = state.result()
    assert result["state"] == "completed" and result["pending"] is None
    assert result["stages"] == ["setup", "forward", "back"]
    assert Path(result["report"]).exists()
    tasks = asyncio.run(_task_runs(state.state_details.flow_run_id))
    assert sorted(t.name.rsplit("-", 1)[0] for t in tasks) == [
        "back", "forward", "prepare", "report", "setup"]
    assert all(t.state is not None and t.state.is_completed() and t.run_count == 1
               for t in tasks)
    journal = _journal(result["run"])
    try:
        reasons = [s["reason"] for s in journal.states() if s["state"] == "paused"]
        kinds = [(s.kind, s.params) for s in journal.steps()]
    finally:
        journal.close()
    # the run was paused between stages by the engine, and is one ordinary run
    assert reasons == ["paused at the end of stage 'setup'", "paused at the end of stage "
                       "'forward'"]
    assert sum(1 for k, p in kinds if k == "dispense" and p["source"] == "ola_stock") >= 1
    artifacts = asyncio.run(_artifacts(state.state_details.flow_run_id))
    kinds_by_key = {a.key: a for a in artifacts}
    assert set(kinds_by_key) == {"verdicts", "spectra", "report"}
    assert "complete" in str(kinds_by_key["verdicts"].data)
    assert kinds_by_key["spectra"].type == "markdown"
    assert "](data:image/png;base64,iVBOR" in str(kinds_by_key["spectra"].data)
    assert Path(result["report"]).resolve().as_uri() in str(kinds_by_key["report"].data)


async def _paused(after: set[Any]) -> Any:
    """The id of a flow run paused now, waiting for the pause whose number is not ``after``."""
    async with get_client() as client:
        for _ in range(240):
            for r in await client.read_flow_runs():
                if r.state is not None and r.state.is_paused() and \
                        (r.id, r.state.state_details.pause_key) not in after:
                    after.add((r.id, r.state.state_details.pause_key))
                    return r.id
            await asyncio.sleep(0.5)
    raise AssertionError("the flow never paused for the operator")


def test_operator_answers_through_the_api_are_used_and_journaled(server: None,
                                                                 tmp_path: Path) -> None:
    out: dict[str, Any] = {}

    def go() -> None:
        out["state"] = exchange(str(ROOT / "recipes" / "cds34-zncl2-subthreshold.yaml"),
                                lab="twin", out=str(tmp_path), operator_timeout_s=120,
                                poll_s=1, return_state=True)

    thread = threading.Thread(target=go)
    thread.start()
    seen: set[Any] = set()
    flow_run_id = asyncio.run(_paused(seen))
    resume_flow_run(flow_run_id, run_input={"answer": "add_salt", "note": "one more dose"})
    assert asyncio.run(_paused(seen)) == flow_run_id  # it stalled again, and asks again
    resume_flow_run(flow_run_id, run_input={"answer": "abort", "note": "enough"})
    thread.join(timeout=120)
    result = out["state"].result()
    assert result["state"] == "completed" and result["pending"] is None
    assert result["stages"] == ["setup", "forward"]  # no back-exchange after an abort
    journal = _journal(result["run"])
    try:
        answers = journal.answers()
        steps = journal.steps()
        assert journal.state() == ("completed", "operator_aborted")
    finally:
        journal.close()
    assert [(a["answer"], a["note"]) for a in answers] == [("add_salt", "one more dose"),
                                                           ("abort", "enough")]
    dose = steps[answers[0]["step"]]  # the step after the first question: the salt it asked
    assert (dose.kind, dose.params["source"], dose.params["volume_ul"]) == (
        "dispense", "salt_stock", 50.0)
    assert steps[-1].n == answers[1]["step"]  # nothing after the abort
    tasks = asyncio.run(_task_runs(flow_run_id))
    forward = [t for t in tasks if t.name.startswith("forward")]
    assert len(forward) == 3  # to the first question, to the second, to the abort


def test_an_unanswered_question_times_out_and_leaves_the_run_waiting(server: None,
                                                                    tmp_path: Path) -> None:
    state = exchange(str(ROOT / "recipes" / "cds34-zncl2-subthreshold.yaml"), lab="twin",
                     out=str(tmp_path), operator_timeout_s=2, poll_s=1, return_state=True)
    # past the pause's timeout the server fails the flow run; the flow's own error (how to
    # answer from the command line) goes to the log, and the report is still written
    with pytest.raises(FailedRun, match="never resumed"):
        state.result()
    [run] = [p for p in tmp_path.iterdir() if (p / JOURNAL_NAME).exists()]
    journal = _journal(str(run))
    try:
        assert journal.state() is not None and journal.state()[0] == "awaiting_operator"
        assert journal.answers() == []
    finally:
        journal.close()
    assert (run / "report.html").exists()


def test_transient_fault_is_retried_and_a_device_fault_is_not(server: None,
                                                               tmp_path: Path) -> None:
    recipe = str(ROOT / "recipes" / "cds34-zncl2.yaml")
    flaky = _lab(tmp_path, "reports_outcomes: true", "reports_outcomes: true\n"
                 "  transient_failures: 3")
    state = exchange(recipe, lab=flaky, out=str(tmp_path / "a"), return_state=True)
    with pytest.raises(TransientRunError):
        state.result()
    [run] = [t for t in asyncio.run(_task_runs(state.state_details.flow_run_id))
             if t.name.startswith("setup")]  # the first step, drawing a blank, fails
    assert run.run_count == 3  # the first try and the task's two retries, each a resume
    broken = _lab(tmp_path, "max_rpm: 1500 rpm", "max_rpm: 1500 rpm\n  fault_after: 0")
    state = exchange(recipe, lab=broken, out=str(tmp_path / "b"), return_state=True)
    with pytest.raises(RunFailedError):
        state.result()
    tasks = asyncio.run(_task_runs(state.state_details.flow_run_id))
    [setup] = [t for t in tasks if t.name.startswith("setup")]
    [run] = [t for t in tasks if t.name.startswith("forward")]  # the first stir faults
    assert setup.state is not None and setup.state.is_completed()
    assert run.run_count == 1
