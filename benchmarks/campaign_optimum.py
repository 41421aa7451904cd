"""How close to the lower bound could *any* schedule of a campaign get? A CP-SAT search.

    uv run --group analysis python benchmarks/campaign_optimum.py [--campaign FILE]
        [--positions N] [--seconds S] [--json]

The campaign benchmark (``benchmarks/campaign.py``) measures the scheduler; this asks what the
best schedule would be, to tell a weak scheduler from a target the lab cannot reach. Every run
is first run alone on the twin; its steps that hold the robot arm or the flow cell become a
chain of operations with the run's own durations, each at least as far after the one before
as it was alone (a vial may wait longer for the arm, never less: a stir is never cut). A run
holds one of the stir positions from its first step on the vial to its end; the reference
blanks before need none (any number of runs may read them early). The arm and the cell do one
operation at a time (measure, reference and discard take 0 s on the twin, so the cell's lease
equals the sample that opens it). The solver knows every run's future, which no scheduler
does, and lets a waiting vial's later steps keep their solo lengths (in the lab a wait can
change them): its best schedule is what a perfect scheduler could reach, its bound what none
can beat. Google OR-Tools' CP-SAT, an analysis-only dependency (``analysis`` group, pinned in
uv.lock; the product never imports it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = ROOT / "recipes" / "campaign-example.yaml"


def solo_chains(path: Path) -> list[dict[str, Any]]:
    """Each run alone: its shared-resource operations (start, end), first vial step, end."""
    from mscrobot.campaign.conductor import Conductor
    from mscrobot.campaign.jobs import memory_job
    from mscrobot.campaign.loader import load_campaign
    from mscrobot.lab.config import load_lab

    loaded = load_campaign(path)
    lab = load_lab("twin")[0]
    chains = []
    for r in loaded.runs:
        conductor = Conductor(1, 0)
        [res] = conductor.run([memory_job(r.recipe, r.seed, lab)])
        if res.error:
            raise SystemExit(f"run {r.index} failed alone: {res.error}")
        ops = [(s.start, s.end) for s in conductor.steps() if s.end > s.start]
        chains.append({"run": r.index, "ops": ops, "placed": res.placed, "end": res.end})
    return chains


def solve(chains: list[dict[str, Any]], positions: int, seconds: float) -> dict[str, Any]:
    """Minimum makespan over every schedule of the chains (best found, and proven bound)."""
    from ortools.sat.python import cp_model

    horizon = int(sum(c["end"] for c in chains)) + 1
    m = cp_model.CpModel()
    arm, holds, ends, firsts = [], [], [], []
    for c in chains:
        prev_end = prev_solo_end = None
        first = None
        for k, (a, b) in enumerate(c["ops"]):
            dur = round(b - a)
            start = m.new_int_var(0, horizon, f"s{c['run']}.{k}")
            arm.append(m.new_fixed_size_interval_var(start, dur, f"op{c['run']}.{k}"))
            if prev_end is not None:
                m.add(start >= prev_end + round(a - prev_solo_end))
            if first is None and c["placed"] is not None and a >= c["placed"]:
                first = start
            prev_end, prev_solo_end = start + dur, b
        end = m.new_int_var(0, horizon, f"end{c['run']}")
        m.add(end >= prev_end + round(c["end"] - prev_solo_end))
        size = m.new_int_var(0, horizon, f"held{c['run']}")
        holds.append(m.new_interval_var(first, size, end, f"position{c['run']}"))
        ends.append(end)
        firsts.append(first)
    # runs with the same solo chain are interchangeable: fix their order (symmetry)
    same: dict[tuple[Any, ...], list[int]] = {}
    for i, c in enumerate(chains):
        same.setdefault((tuple(c["ops"]), c["placed"], c["end"]), []).append(i)
    for group in same.values():
        for i, j in itertools.pairwise(group):
            m.add(firsts[i] <= firsts[j])
    m.add_no_overlap(arm)
    m.add_cumulative(holds, [1] * len(holds), positions)
    makespan = m.new_int_var(0, horizon, "makespan")
    m.add_max_equality(makespan, ends)
    m.minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = os.cpu_count() or 1
    status = solver.solve(m)
    return {"status": solver.status_name(status), "best_s": solver.objective_value,
            "proven_bound_s": solver.best_objective_bound}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--campaign", type=Path, default=CAMPAIGN)
    parser.add_argument("--positions", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=300.0, help="solver time limit")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    chains = solo_chains(args.campaign)
    arm = sum(b - a for c in chains for a, b in c["ops"])
    bound = max(arm, max(c["end"] for c in chains),
                sum(c["end"] for c in chains) / args.positions)
    t0 = time.perf_counter()
    out = solve(chains, args.positions, args.seconds)
    result = {"campaign": args.campaign.name, "runs": len(chains), "positions": args.positions,
              "lower_bound_s": bound, "arm_busy_s": arm, **out,
              "best_ratio": out["best_s"] / bound,
              "proven_ratio": out["proven_bound_s"] / bound,
              "solver_wall_s": time.perf_counter() - t0,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{len(chains)} runs, {args.positions} positions: lower bound {bound:.0f} s; best "
          f"schedule found {out['best_s']:.0f} s = {result['best_ratio']:.3f}x; no schedule "
          f"below {out['proven_bound_s']:.0f} s = {result['proven_ratio']:.3f}x "
          f"({out['status']}, {result['solver_wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
