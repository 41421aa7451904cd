"""Dry-run speed: the whole `mscrobot run` command, and the engine's lab time per wall second.

    uv run python benchmarks/dryrun.py [--repeat 5] [--lab LAB ...] [--json]

For the reference recipe (recipes/cds34-zncl2.yaml), each number the median of ``--repeat``
runs, the labs' runs alternating so they share the machine's moods:
- ``command_s``: process start to report written (`python -m mscrobot.cli run RECIPE --lab
  LAB`), the wall time a user waits;
- ``engine_ratio``: simulated lab time / wall time of the engine alone (in process, imports
  done, journal on disk with fsync, report not included); issue 5's target ≥ 1000;
- ``report_s``: writing the HTML report of that run (in process, matplotlib already imported).
The labs (default: both shipped dry-run labs) are ``simulated``, the default, whose liquid
handling Opentrons' engine checks in process, and ``twin``, the same lab without it. The
reference recipe's exported protocol (protocols/cds34-zncl2.py) is run through
``opentrons_simulate`` in the same run (``opentrons_simulate_s``): issue 7's target is the
Opentrons-checked dry run in at most 1.5x that (``vs_opentrons_simulate``). Issue 5's ≤ 5 s for
the whole command was set before every dry run imported Opentrons (~3-4 s alone); it is
reported for the twin lab. A bare `python -c pass` is timed too, to put start-up in proportion.
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


def _commands(repeat: int, out: Path,
              labs: list[str]) -> tuple[dict[str, float], float, float]:
    """Median seconds of each lab's command, of ``python -c pass`` and of
    ``opentrons_simulate``, all interleaved so that they share the machine's moods."""
    simulate = Path(sys.executable).with_name("opentrons_simulate")
    times: dict[str, list[float]] = {lab: [] for lab in labs}
    bare, ot = [], []
    for i in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run([str(simulate), str(PROTOCOL)], check=True, capture_output=True)
        ot.append(time.perf_counter() - t0)
        for lab in labs:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mscrobot.cli", "run", str(RECIPE), "--out",
                            str(out / f"cmd{i}"), "--json", "--lab", lab], check=True,
                           capture_output=True)
            times[lab].append(time.perf_counter() - t0)
    return ({lab: statistics.median(t) for lab, t in times.items()}, statistics.median(bare),
            statistics.median(ot))


def _engine(repeat: int, out: Path, lab_ref: str) -> dict[str, float]:
    from mscrobot.app.runs import create_run, execute
    from mscrobot.lab.config import load_lab
    from mscrobot.recipe.loader import load_recipe
    from mscrobot.report.html import write_report

    recipe = load_recipe(RECIPE).recipe
    lab, lab_text = load_lab(lab_ref)
    walls, reports, lab_t = [], [], 0.0
    write_report  # noqa: B018 - imported before timing: matplotlib's import is not the report's
    for i in range(repeat + 1):
        info = create_run(recipe, RECIPE.read_text(), str(RECIPE), lab, lab_text, 0,
                          out / f"eng-{Path(lab_ref).stem}{i}")
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
    parser.add_argument("--lab", action="append", default=None,
                        help="lab name or file; repeatable (default: simulated and twin)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    labs: list[str] = args.lab or ["simulated", "twin"]
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the CLI sets it
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        commands, bare, ot_simulate = _commands(args.repeat, out, labs)
        result = {"recipe": str(RECIPE.relative_to(ROOT)), "repeat": args.repeat,
                  "python_start_s": bare, "opentrons_simulate_s": ot_simulate,
                  "labs": {lab: {"command_s": commands[lab],
                                 "vs_opentrons_simulate": commands[lab] / ot_simulate,
                                 **_engine(args.repeat, out, lab)} for lab in labs},
                  "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                  "python": platform.python_version()}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"opentrons_simulate of the exported protocol: {ot_simulate:.2f} s "
          f"(python start {bare:.2f} s)")
    for lab, r in result["labs"].items():
        print(f"{lab}: mscrobot run (process start to report) {r['command_s']:.2f} s "
              f"= {r['vs_opentrons_simulate']:.2f}x opentrons_simulate; engine "
              f"{r['lab_time_s'] / 60:.1f} min of lab time in {r['engine_wall_s']:.3f} s = "
              f"{r['engine_ratio']:.0f}x; report {r['report_s']:.2f} s")


if __name__ == "__main__":
    main()
