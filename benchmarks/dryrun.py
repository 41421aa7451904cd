"""Dry-run speed: the whole `mscrobot run` command, and the engine's lab time per wall second.

    uv run python benchmarks/dryrun.py [--repeat 5] [--lab LAB] [--json]

Three numbers for the reference recipe (recipes/cds34-zncl2.yaml) on the simulated lab, each the
median of ``--repeat`` runs:
- ``command_s``: process start to report written (`python -m mscrobot.cli run RECIPE`), the wall
  time a user waits; target ≤ 5 s;
- ``engine_ratio``: simulated lab time / wall time of the engine alone (in process, imports
  done, journal on disk with fsync, report not included); target ≥ 1000;
- ``report_s``: writing the HTML report of that run (in process, matplotlib already imported).
A bare `python -c pass` is timed in the same run, to put the command's start-up in proportion.
The reference recipe's exported protocol (protocols/cds34-zncl2.py) is run through
``opentrons_simulate`` in the same run (``opentrons_simulate_s``, the median process time):
issue 7's target is a whole mscrobot dry run with Opentrons-checked liquid handling
(``--lab hardware/labs/opentrons-sim.yaml``) in at most 1.5x that (``vs_opentrons_simulate``).
``--lab`` times another lab (e.g. hardware/labs/opentrons-sim.yaml, liquid handling checked by
Opentrons' engine in process); the default is the shipped simulated lab.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "cds34-zncl2.yaml"
PROTOCOL = ROOT / "protocols" / "cds34-zncl2.py"


def _command(repeat: int, out: Path, lab: str | None) -> tuple[float, float]:
    extra = [] if lab is None else ["--lab", lab]
    times, bare = [], []
    for i in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mscrobot.cli", "run", str(RECIPE), "--out",
                        str(out / f"cmd{i}"), "--json", *extra], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), statistics.median(bare)


def _opentrons_simulate(repeat: int) -> float:
    simulate = Path(sys.executable).with_name("opentrons_simulate")
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([str(simulate), str(PROTOCOL)], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _engine(repeat: int, out: Path, lab_ref: str | None) -> dict[str, float]:
    from mscrobot.engine.runs import create_run, execute
    from mscrobot.lab.config import load_lab
    from mscrobot.recipe.loader import load_recipe
    from mscrobot.report.html import write_report

    recipe = load_recipe(RECIPE).recipe
    lab, lab_text = load_lab(lab_ref)
    walls, reports, lab_t = [], [], 0.0
    write_report  # noqa: B018 - imported before timing: matplotlib's import is not the report's
    for i in range(repeat + 1):
        info = create_run(recipe, RECIPE.read_text(), str(RECIPE), lab, lab_text, 0,
                          out / f"eng{i}")
        t0 = time.perf_counter()
        end = execute(info)
        wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_report(info.path)
        report = time.perf_counter() - t0
        if i == 0:
            continue  # the first run warms caches (pint, scipy's first fits, matplotlib fonts)
        walls.append(wall)
        reports.append(report)
        lab_t = end.lab_t
    wall = statistics.median(walls)
    return {"lab_time_s": lab_t, "engine_wall_s": wall, "engine_ratio": lab_t / wall,
            "report_s": statistics.median(reports)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lab", default=None, help="lab name or file (default: simulated)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the CLI sets it
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        command, bare = _command(args.repeat, out, args.lab)
        ot_simulate = _opentrons_simulate(args.repeat)
        result = {"recipe": str(RECIPE.relative_to(ROOT)), "lab": args.lab or "simulated",
                  "repeat": args.repeat, "command_s": command, "python_start_s": bare,
                  "opentrons_simulate_s": ot_simulate,
                  "vs_opentrons_simulate": command / ot_simulate,
                  **_engine(args.repeat, out, args.lab),
                  "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                  "python": platform.python_version()}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"mscrobot run (process start to report): {command:.2f} s (python start {bare:.2f} s)")
    print(f"opentrons_simulate of the exported protocol: {ot_simulate:.2f} s "
          f"(the run takes {command / ot_simulate:.2f}x that)")
    print(f"engine: {result['lab_time_s'] / 60:.1f} min of lab time in "
          f"{result['engine_wall_s']:.3f} s = {result['engine_ratio']:.0f}x")
    print(f"report: {result['report_s']:.2f} s")


if __name__ == "__main__":
    main()
