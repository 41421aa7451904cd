"""Campaign makespan against its lower bound, and whether each vial's verdicts stayed its own.

    uv run python benchmarks/campaign.py [--campaign FILE] [--positions N] [--stagger S] [--json]

The campaign runs in memory under the real scheduler (the same schedule `mscrobot campaign`
makes; no files), on the twin lab whatever the campaign file names: the makespan is a property
of the schedule in virtual time, which Opentrons' check of the liquid handling does not change
(every example's Opentrons-checked dry run has the plain one's lab time and steps:
tests/lab/opentrons/test_opentrons_handler.py), and the twin spares ~1 s of wall per run. Then
every run is repeated alone with its seed.
- ``makespan_s``: first step to last run's end, campaign time;
- ``lower_bound_s`` = max(busiest shared resource's total busy time, longest run, total run
  time ÷ stir positions), with run times of the runs *alone* (no waiting): the bound the issue
  sets; target makespan ≤ 1.1 × it. ``lower_bound_in_campaign_s`` is the same with the time each
  run held its stir position in the campaign (its waits for the arm or the cell included), for
  comparison;
- ``robot_idle_s``: makespan minus the robot's busy time, split by how many runs held a stir
  position meanwhile: ``all_positions_held`` (every vial stirring, settling or waiting on
  the cell: nothing for the arm to do) and ``fewer_runs`` (start-up and the tail, when fewer
  runs than positions are left);
- ``reference_age_s``: how long before a run's first step on its vial its reference blanks
  were read (runs let in ahead of a free position read them early; alone it is ~0 s);
- verdicts: runs whose sequence of verdict states equals the solo run's, whose final verdicts
  do, and whose verdicts (numbers and times too) are identical.
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


def _robot_idle(intervals: list[Any], runs: list[tuple[float, float]], positions: int,
               makespan: float) -> dict[str, float]:
    """Gaps in the robot's schedule, by whether every stir position held a run meanwhile."""
    busy = sorted((iv.start, iv.end) for iv in intervals if iv.resource == "robot")
    gaps, t = [], 0.0
    for start, end in busy:
        if start > t:
            gaps.append((t, start))
        t = max(t, end)
    if makespan > t:
        gaps.append((t, makespan))
    out = {"all_positions_held": 0.0, "fewer_runs": 0.0}
    for a, b in gaps:
        edges = sorted({a, b, *(x for r in runs for x in r if a < x < b)})
        for lo, hi in itertools.pairwise(edges):
            held = sum(start <= lo and hi <= end for start, end in runs)
            out["all_positions_held" if held >= positions else "fewer_runs"] += hi - lo
    return out


def _late(job: Any, delay: float) -> Any:
    """``job`` started ``delay`` s after it gets its position (the position idles meanwhile)."""
    from mscrobot.campaign.conductor import Job

    def go(gate: Any) -> Any:
        gate.wait_until(gate.offset + delay)
        gate.offset += delay
        return job.execute(gate)

    return Job(go, job.end_time)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--campaign", type=Path, default=CAMPAIGN)
    parser.add_argument("--positions", type=int, default=None,
                        help="stir positions instead of the campaign's (what-if)")
    parser.add_argument("--stagger", type=float, default=0.0,
                        help="first wave: run k < positions starts k × this many seconds late")
    parser.add_argument("--ahead", type=int, default=None,
                        help="runs let in ahead of a free position instead of the campaign's "
                        "(what-if)")
    parser.add_argument("--seed", type=int, default=None,
                        help="campaign seed instead of the file's (run k gets seed + k)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from mscrobot.campaign.conductor import Conductor
    from mscrobot.campaign.jobs import memory_job, run_alone
    from mscrobot.campaign.loader import load_campaign
    from mscrobot.lab.config import load_lab

    loaded = load_campaign(args.campaign)
    if args.seed is not None:
        for r in loaded.runs:
            r.seed = args.seed + r.index
    positions = args.positions or loaded.campaign.resources.stir_positions
    groups = [] if args.positions else loaded.campaign.resources.speed_groups()
    ahead = loaded.campaign.ahead if args.ahead is None else args.ahead
    conductor = Conductor(positions, ahead, groups)
    t0 = time.perf_counter()
    lab = load_lab("twin")[0]
    jobs = [memory_job(r.recipe, r.seed, lab) for r in loaded.runs]
    jobs = [_late(j, k * args.stagger) if k < positions else j for k, j in enumerate(jobs)]
    results = conductor.run(jobs)
    wall = time.perf_counter() - t0
    errors = [r.error for r in results if r.error]
    if errors:
        raise SystemExit(f"runs failed: {errors}")
    solo = [run_alone(r.recipe, r.seed, lab) for r in loaded.runs]
    sched = conductor.scheduler
    busy = {k: v for k, v in sched.busy_time().items() if not k.startswith("position")}
    makespan = max(r.end for r in results)
    alone_s = [s.lab_t for s in solo]
    in_campaign_s = [r.end - r.offset - r.position_wait for r in results]
    on_position_s = [r.end - r.placed for r in results if r.placed is not None]
    parts = {"busiest_resource_s": max(busy.values()), "longest_run_s": max(alone_s),
             "run_time_per_position_s": sum(alone_s) / positions}
    bound = max(parts.values())
    bound_in_campaign = max(busy[max(busy, key=busy.__getitem__)], max(on_position_s),
                            sum(on_position_s) / positions)
    held = [(iv.start, iv.end) for iv in sched.intervals if iv.resource.startswith("position")]
    idle = _robot_idle(sched.intervals, held, positions, makespan)
    steps_waited = [w for w in sched.waits if w.what not in ("run", "position")]
    ages = [r.placed - max((s.end for s in conductor.steps()
                            if s.run == r.index and s.end <= r.placed), default=r.placed)
            for r in results if r.placed is not None]
    states = [[(v["stage"], v["state"]) for v in out.verdicts]
              for out in (r.value for r in results)]
    solo_states = [[(v["stage"], v["state"]) for v in s.verdicts] for s in solo]
    result = {
        "campaign": str(args.campaign.relative_to(ROOT) if args.campaign.is_relative_to(ROOT)
                        else args.campaign),
        "runs": len(results), "positions": positions, "makespan_s": makespan,
        "lower_bound_s": bound, "lower_bound_parts": parts, "ratio": makespan / bound,
        "target_ratio": 1.1, "lower_bound_in_campaign_s": bound_in_campaign,
        "ratio_in_campaign": makespan / bound_in_campaign, "busy_s": busy,
        "robot_idle_s": idle, "ahead": conductor.ahead,
        "reference_age_s": {"max": max(ages), "mean": sum(ages) / len(ages)},
        "steps_waited": len(steps_waited),
        "step_wait_total_s": sum(w.granted - w.requested for w in steps_waited),
        "run_lengthening_s": sum(in_campaign_s) - sum(alone_s),
        "verdict_states_equal": sum(a == b for a, b in zip(states, solo_states, strict=True)),
        "final_verdicts_equal": sum((r.value.forward, r.value.back) == (s.forward, s.back)
                                    for r, s in zip(results, solo, strict=True)),
        "verdicts_identical": sum(r.value.verdicts == s.verdicts
                                  for r, s in zip(results, solo, strict=True)),
        "campaign_wall_s": wall,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['runs']} runs on {positions} positions: makespan {makespan / 60:.1f} min, "
          f"lower bound {bound / 60:.1f} min → {result['ratio']:.3f}x (target ≤ 1.1x)")
    print("  bound parts (min): " + ", ".join(f"{k} {v / 60:.1f}" for k, v in parts.items()))
    print(f"  robot idle {sum(idle.values()) / 60:.1f} min: "
          f"{idle['all_positions_held'] / 60:.1f} with every position held, "
          f"{idle['fewer_runs'] / 60:.1f} with fewer runs than positions")
    print(f"  references read {result['reference_age_s']['max']:.0f} s at most "
          f"(mean {result['reference_age_s']['mean']:.0f} s) before the vial's first step")
    print(f"  with in-campaign run times the bound is {bound_in_campaign / 60:.1f} min → "
          f"{result['ratio_in_campaign']:.3f}x; runs lengthened by waiting "
          f"{result['run_lengthening_s'] / 60:.1f} min in all")
    print(f"  verdicts vs alone: states equal {result['verdict_states_equal']}/{len(results)}, "
          f"final equal {result['final_verdicts_equal']}, identical "
          f"{result['verdicts_identical']}; wall {wall:.1f} s")


if __name__ == "__main__":
    main()
