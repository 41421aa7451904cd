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

pytest.importorskip("prefect")

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


async def _run_deployment(name: str, parameters: dict[str, Any], timeout_s: float) -> Any:
    async with get_client() as client:
        deployment = await client.read_deployment_by_name(name)
        run = await client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = await client.read_flow_run(run.id)
            if run.state is not None and run.state.is_final():
                return run
            await asyncio.sleep(0.5)
        raise AssertionError(f"flow run still {run.state} after {timeout_s} s")


def test_exchange_deployment_runs_on_a_process_worker(
        worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    deploy = subprocess.run(
        [PREFECT, "--no-prompt", "deploy", "--all", "--prefect-file", str(ROOT / "prefect.yaml")],
        cwd=ROOT, env=_env(MSCROBOT_POOL=POOL, MSCROBOT_LAB="simulated"),
        capture_output=True, text=True, timeout=120)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr

    async def deployments() -> list[Any]:
        async with get_client() as client:
            return [d for d in await client.read_deployments() if d.work_pool_name == POOL]

    found = asyncio.run(deployments())
    assert sorted((d.name, d.entrypoint) for d in found) == [
        (POOL, "flows/campaign.py:campaign"), (POOL, "flows/exchange.py:exchange")]
    assert all(d.parameters["lab"] == "simulated" for d in found)
    out = tmp_path / "runs"
    run = asyncio.run(_run_deployment(
        f"exchange/{POOL}", {"recipe": "recipes/cds34-zncl2.yaml", "out": str(out)}, 120))
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert run.state.is_completed(), f"{run.state}\n{log[-4000:]}"
    assert worker.poll() is None, log[-4000:]
    [folder] = out.iterdir()  # the recipe path resolved in MSCROBOT_HOME, the run in `out`
    assert (folder / "report.html").exists()
    from mscrobot.engine.journal import JOURNAL_NAME, Journal

    journal = Journal(folder / JOURNAL_NAME)
    try:
        assert journal.state() is not None and journal.state()[0] == "completed"
        assert journal.verdicts()[-1]["state"] == "complete"
    finally:
        journal.close()
