"""The repository's ``prefect.yaml`` deployed to a process work pool on the real test server and
run by a real ``prefect worker`` subprocess, as on a lab PC (code from the local checkout)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.settings import PREFECT_API_URL

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL = "lab-test"
pytestmark = pytest.mark.slow


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **extra}


@pytest.fixture
def worker(server: None, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process work pool and a worker polling it every second (killed at the end)."""

    async def create() -> None:
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))

    asyncio.run(create())
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", POOL, "--type", "process"],
        env=_env(MSCROBOT_HOME=str(ROOT), PREFECT_WORKER_QUERY_SECONDS="1",
                 PREFECT_WORKER_PREFETCH_SECONDS="1"),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


async def _run_deployments(runs: dict[str, dict[str, Any]], timeout_s: float) -> list[Any]:
    """Start a flow run of each deployment and wait for all of them to end."""
    async with get_client() as client:
        ids = []
        for name, parameters in runs.items():
            deployment = await client.read_deployment_by_name(name)
            ids.append((await client.create_flow_run_from_deployment(
                deployment.id, parameters=parameters)).id)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [await client.read_flow_run(i) for i in ids]
            if all(r.state is not None and r.state.is_final() for r in found):
                return found
            await asyncio.sleep(0.5)
        raise AssertionError(f"flow runs still {[r.state for r in found]} after {timeout_s} s")


def _ended(run_dir: Path) -> tuple[str, str | None]:
    from mscrobot.engine.journal import JOURNAL_NAME, Journal

    journal = Journal(run_dir / JOURNAL_NAME)
    try:
        state = journal.state()
        verdicts = journal.verdicts()
        return ("" if state is None else state[0]), (verdicts[-1]["state"] if verdicts else None)
    finally:
        journal.close()


def test_exchange_deployment_runs_on_a_process_worker(worker: subprocess.Popen[bytes],
                                                       tmp_path: Path) -> None:
    deploy = subprocess.run(
        [PREFECT, "--no-prompt", "deploy", "--all", "--prefect-file", str(ROOT / "prefect.yaml")],
        cwd=ROOT, env=_env(MSCROBOT_POOL=POOL, MSCROBOT_LAB="twin"),
        capture_output=True, text=True, timeout=120)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr

    async def deployments() -> list[Any]:
        async with get_client() as client:
            return [d for d in await client.read_deployments() if d.work_pool_name == POOL]

    found = asyncio.run(deployments())
    assert sorted((d.name, d.entrypoint) for d in found) == [
        (POOL, "flows/campaign.py:campaign"), (POOL, "flows/exchange.py:exchange")]
    assert all(d.parameters["lab"] == "twin" for d in found)
    [campaign] = [d for d in found if d.entrypoint.startswith("flows/campaign.py")]
    assert campaign.parameters["prefix"] == POOL  # the lab's instrument limits are its own
    runs = tmp_path / "runs"
    [ended] = asyncio.run(_run_deployments(
        {f"exchange/{POOL}": {"recipe": "recipes/cds34-zncl2.yaml", "out": str(runs)}}, 120))
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert ended.state.is_completed(), f"{ended.state}\n{log[-4000:]}"
    assert worker.poll() is None, log[-4000:]
    [folder] = runs.iterdir()  # the recipe path resolved in MSCROBOT_HOME, the run in `out`
    assert (folder / "report.html").exists()
    assert _ended(folder) == ("completed", "complete")
