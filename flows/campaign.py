"""The ``campaign`` flow: a campaign's runs as Prefect tasks sharing instruments through Prefect
global concurrency limits (for labs on wall-clock time, possibly many lab PCs).

The core's scheduler (``mscrobot campaign``) plans a campaign in virtual time on one machine;
here the lab's instruments are guarded by the Prefect server instead, so runs on different
workers can share them: one limit of 1 per stir position, the robot arm and the spectrometer,
created in ``setup_limits`` and taken with ``strict=True`` (a missing limit is an error, never a
free pass). Each run's plan is gated by the same wrapper as the core scheduler's
(``mscrobot/campaign/gating.py``: which step needs what, the flow cell held from the sample drawn
into it to its flush, a resumed run's journaled steps replayed without taking anything and its
flow cell taken back before its first new step); ``PrefectGate`` only takes and gives limits.
Limits are taken one resource at a time in a fixed order (spectrometer before robot, the
robot only for one step), so no two runs can wait for each other in a cycle. A run takes its stir
position (run k → position k mod N) for its whole length. Labs with real instruments are refused
by ``load_campaign``, as by ``mscrobot campaign`` (a lab config names one reaction vial).

At the end ``campaign-report`` writes the record ``mscrobot campaign`` writes (``summary.json``:
the runs' results from their journals, stocks, tips; as schedule the limits' wall-clock holds,
``clock: wall``) and ``report.html``; artifacts: a table of the runs, a link to the report.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import flow, get_client, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectNotFound

from mscrobot.app.runs import RunInfo, execute, load_run
from mscrobot.campaign.gating import GatedPlan, Reentry, ResourceGate
from mscrobot.campaign.jobs import reentry_of
from mscrobot.campaign.loader import LoadedCampaign, load_campaign
from mscrobot.campaign.record import Progress, create_campaign, summarise, tips, write_record
from mscrobot.campaign.report import write_campaign_report
from mscrobot.campaign.resources import ROBOT, SPECTROMETER, Use
from mscrobot.campaign.resume import find_campaign, load_resume
from mscrobot.campaign.scheduler import Interval
from mscrobot.procedure.steps import Outcome, Step

#: Order in which a step takes its limits (see the module docstring: no cycles).
ORDER = (SPECTROMETER, ROBOT)


def limit_names(prefix: str, positions: int) -> list[str]:
    return [f"{prefix}-{ROBOT}", f"{prefix}-{SPECTROMETER}",
            *(f"{prefix}-position-{k}" for k in range(positions))]


def setup_limits(prefix: str, positions: int) -> list[str]:
    """Create (or reset to 1) the campaign's global concurrency limits."""
    names = limit_names(prefix, positions)
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1))
    return names


class PrefectGate(ResourceGate):
    """A run's steps let through by Prefect limits; records wall-clock holds for the record."""

    def __init__(self, prefix: str, run: int) -> None:
        self.prefix, self.run = prefix, run
        self.log: list[tuple[str, int, float, float]] = []
        self.held: dict[str, tuple[AbstractContextManager[None], float]] = {}

    def _take(self, resource: str) -> None:
        cm = concurrency(f"{self.prefix}-{resource}", occupy=1, strict=True)
        cm.__enter__()
        self.held[resource] = (cm, time.monotonic())

    def _give(self, resource: str) -> None:
        cm, since = self.held.pop(resource)
        end = time.monotonic()
        cm.__exit__(None, None, None)
        self.log.append((resource, self.run, since, end))

    def reenter(self, back: Reentry) -> None:
        for r in ORDER:
            if r in back.leases:
                self._take(r)

    def before(self, n: int, step: Step[Any], use: Use, needs: frozenset[str],
               leases: frozenset[str]) -> None:
        for r in ORDER:
            if r in needs:
                self._take(r)

    def after(self, n: int, step: Step[Any], use: Use, release: frozenset[str],
              outcome: Outcome[Any]) -> None:
        for r in ORDER:
            if r in release:
                self._give(r)

    def close(self) -> None:
        for r in list(self.held):
            self._give(r)


@task(name="campaign-run", cache_policy=NO_CACHE)
def campaign_run(run_path: str, index: int, position: int, prefix: str) -> dict[str, Any]:
    """One run to its end, holding its stir position; returns its wall-clock holds too."""
    gate = PrefectGate(prefix, index)
    reentry = reentry_of(Path(run_path), position)  # None: the run starts
    with concurrency(f"{prefix}-position-{position}", occupy=1, strict=True):
        start = time.monotonic()
        end = execute(load_run(Path(run_path)),
                      plan_for=lambda plan, lab: GatedPlan(plan, gate, reentry))
        gate.log.append((f"position-{position}", index, start, time.monotonic()))
    return {"index": index, "position": position, "state": str(end.state),
            "reason": end.reason, "lab_time_s": end.lab_t, "holds": gate.log}


@flow(name="campaign")
def campaign(file: str | None = None, lab: str | None = None, out: str = "campaigns",
             prefix: str = "mscrobot", resume: str | None = None) -> dict[str, Any]:
    """Every run of the campaign file as a task; shared instruments behind Prefect limits.
    ``resume``: a campaign folder (its id under ``out``, or a path) to go on with instead, as
    ``mscrobot campaign --resume``: runs that ended stay as they are, the others run (resumed
    from their journals), each keeping the lab it was created with (``lab`` is not used)."""
    if (file is None) == (resume is None):
        raise ValueError("give the campaign flow a campaign file or resume=CAMPAIGN (not both)")
    ended: set[int] = set()
    if resume is not None:
        path = find_campaign(resume, Path(out))
        loaded, infos, progress, _ = load_resume(path)
        ended = set(progress.ended)
        if lab:
            get_run_logger().warning("resuming %s: its runs keep the lab they were created "
                                     "with; lab=%s is not used", path.name, lab)
    else:
        assert file is not None
        loaded = load_campaign(file, lab)
    if loaded.campaign.resources.speed_groups():
        # a limit of 1 per position cannot say "any number of runs, at one rpm"
        raise ValueError(f"{file or resume}: shared_speed is scheduled by `mscrobot campaign`; "
                         "the Prefect flow does not share a stirrer speed yet")
    positions = loaded.campaign.resources.stir_positions
    setup_limits(prefix, positions)
    if resume is None:
        path, infos = create_campaign(loaded, Path(out))
    futures = [campaign_run.submit(str(info.path), k, k % positions, prefix)
               for k, info in enumerate(infos) if k not in ended]
    runs = [f.result() for f in futures]
    holds = sorted((h for r in runs for h in r.pop("holds")), key=lambda h: h[2])
    report = campaign_report(str(path), holds)
    return {"path": str(path), "runs": runs, "holds": holds, "report": report}


def wall_clock_record(loaded: LoadedCampaign, path: Path, infos: list[RunInfo],
                      progress: Progress,
                      holds: list[tuple[str, int, float, float]]) -> dict[str, Any]:
    """The campaign record ``mscrobot campaign`` writes, with this flow run's schedule: who
    held which limit when, in wall-clock seconds from the first hold (runs on different workers
    share no virtual clock). ``progress``: the runs' results, from their journals, and the last
    record's schedule of runs this flow run did not run."""
    summary = summarise(loaded, path.name, [i.id for i in infos],
                        Progress(ended=progress.ended, carried=progress.carried))
    t0 = min((h[2] for h in holds), default=0.0)
    summary["intervals"] = [asdict(Interval(resource, run, start - t0, end - t0, "wall clock"))
                            for resource, run, start, end in holds]
    for entry in summary["runs"]:
        mine = [h for h in holds if h[1] == entry["index"] and h[0].startswith("position-")]
        if mine:
            resource, _, start, end = mine[0]
            entry |= {"position": int(resource.removeprefix("position-")),
                      "start_s": start - t0, "placed_s": start - t0, "end_s": end - t0}
    summary["makespan_s"] = max((h[3] - t0 for h in holds), default=0.0)
    summary["clock"] = "wall"
    summary["tips"] = tips(loaded, infos)
    return summary


@task(name="campaign-report", cache_policy=NO_CACHE)
def campaign_report(path: str, holds: list[tuple[str, int, float, float]]) -> str:
    """Write the campaign record and report; artifacts: the runs' verdicts, a report link."""
    folder = Path(path)
    loaded, infos, progress, _ = load_resume(folder)
    summary = wall_clock_record(loaded, folder, infos, progress, holds)
    write_record(folder, summary)
    target = write_campaign_report(folder)
    create_table_artifact(
        [{"run": r["index"], "salt": r["salt"], "Zn_per_cluster": round(r["equivalents"], 3),
          "rpm": r["stir_rpm"], "position": r["position"], "exchange": r["forward"],
          "back": r["back"], "transfer_min": None if r["transfer_s"] is None
          else round(r["transfer_s"] / 60, 2), "state": r["state"]}
         for r in summary["runs"]], key="campaign-runs",
        description=f"runs of campaign {folder.name}")
    create_link_artifact(target.resolve().as_uri(), link_text=f"report of campaign {folder.name}",
                         key="campaign-report")
    return str(target)
