"""The exchange flow against a real Prefect server (a subprocess on 127.0.0.1, temporary DB)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

prefect = pytest.importorskip("prefect")

from prefect.client.orchestration import get_client  # noqa: E402
from prefect.client.schemas.filters import (  # noqa: E402
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.flow_runs import resume_flow_run  # noqa: E402

from flows.exchange import RunFailedError, TransientRunError, exchange  # noqa: E402
from mscrobot.engine.journal import JOURNAL_NAME, Journal  # noqa: E402
from mscrobot.lab.config import shipped_labs  # noqa: E402

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
    text = shipped_labs()["simulated"]
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return str(path)


def test_reference_recipe_completes_with_artifacts(server: None, tmp_path: Path) -> None:
    state = exchange(str(ROOT / "recipes" / "cds34-zncl2.yaml"), out=str(tmp_path),
                     return_state=True)
    result = state.result()
    assert result["state"] == "completed" and result["pending"] is None
    assert Path(result["report"]).exists()
    artifacts = asyncio.run(_artifacts(state.state_details.flow_run_id))
    kinds = {a.key: a for a in artifacts}
    assert set(kinds) == {"verdicts", "report"}
    assert "complete" in str(kinds["verdicts"].data)
    assert Path(result["report"]).resolve().as_uri() in str(kinds["report"].data)


def test_operator_pause_is_answered_through_the_api(server: None, tmp_path: Path) -> None:
    out: dict[str, Any] = {}

    def go() -> None:
        out["state"] = exchange(str(ROOT / "recipes" / "cds34-zncl2-subthreshold.yaml"),
                                out=str(tmp_path), operator_timeout_s=120, poll_s=1,
                                return_state=True)

    thread = threading.Thread(target=go)
    thread.start()

    async def paused() -> Any:
        async with get_client() as client:
            for _ in range(240):
                runs = await client.read_flow_runs()
                waiting = [r for r in runs if r.state is not None and r.state.is_paused()]
                if waiting:
                    return waiting[0].id
                await asyncio.sleep(0.5)
        raise AssertionError("the flow never paused for the operator")

    flow_run_id = asyncio.run(paused())
    resume_flow_run(flow_run_id, run_input={"answer": "finish", "note": "enough"})
    thread.join(timeout=120)
    result = out["state"].result()
    assert result["state"] == "completed" and result["pending"] is None
    journal = Journal(Path(result["run"]) / JOURNAL_NAME)
    try:
        assert [a["answer"] for a in journal.answers()] == ["finish"]
        assert journal.state() == ("completed", "operator_finished")
    finally:
        journal.close()


def test_transient_fault_is_retried_and_a_device_fault_is_not(server: None,
                                                               tmp_path: Path) -> None:
    recipe = str(ROOT / "recipes" / "cds34-zncl2.yaml")
    flaky = _lab(tmp_path, "reports_outcomes: true", "reports_outcomes: true\n"
                 "  transient_failures: 3")
    state = exchange(recipe, lab=flaky, out=str(tmp_path / "a"), return_state=True)
    with pytest.raises(TransientRunError):
        state.result()
    [run] = [t for t in asyncio.run(_task_runs(state.state_details.flow_run_id))
             if t.name.startswith("execute")]
    assert run.run_count == 3  # the first try and the task's two retries, each a resume
    broken = _lab(tmp_path, "max_rpm: 1500 rpm", "max_rpm: 1500 rpm\n  fault_after: 0")
    state = exchange(recipe, lab=broken, out=str(tmp_path / "b"), return_state=True)
    with pytest.raises(RunFailedError):
        state.result()
    [run] = [t for t in asyncio.run(_task_runs(state.state_details.flow_run_id))
             if t.name.startswith("execute")]
    assert run.run_count == 1
