"""What Prefect costs: the reference recipe as the ``exchange`` flow vs the same run in the core.

    uv run python benchmarks/prefect_overhead.py [--repeat 5] [--json]

Both in one process, on the same machine, in the same benchmark run, after imports and after a
warm-up run of each (the flow's first run also registers the flow with the server): the same
work — load the recipe and the lab, create the run folder, execute the run on the simulated lab,
write the HTML report. ``core_s`` calls the core directly (what ``mscrobot run`` does);
``flow_s`` calls ``flows.exchange.exchange`` against a real local Prefect server (a subprocess on
127.0.0.1 with a temporary database, started once, its start-up reported as ``server_start_s``).
Runs alternate core/flow; medians over ``--repeat``. Target: flow_s ≤ 1.1 × core_s + 2 s.

Import times are measured separately, each in a fresh interpreter: the core (engine, lab,
recipe, report) and the flow module (which imports Prefect and the core).
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
CORE_IMPORTS = ("mscrobot.app.runs", "mscrobot.lab.config", "mscrobot.recipe.loader",
                "mscrobot.report.html")


def _import_s(modules: tuple[str, ...], repeat: int) -> float:
    code = ("import time; t = time.perf_counter(); "
            + "; ".join(f"import {m}" for m in modules)
            + "; print(time.perf_counter() - t)")
    times = [float(subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                                  capture_output=True, text=True).stdout)
             for _ in range(repeat)]
    return statistics.median(times)


def _core(out: Path) -> str:
    from mscrobot.app.runs import create_run, execute
    from mscrobot.lab.config import load_lab
    from mscrobot.recipe.loader import load_recipe
    from mscrobot.report.html import write_report

    loaded = load_recipe(RECIPE)
    lab, lab_text = load_lab(None)
    info = create_run(loaded.recipe, RECIPE.read_text(encoding="utf-8"), str(RECIPE), lab,
                      lab_text, 0, out)
    end = execute(info)
    write_report(info.path)
    return str(end.state)


def _flow(out: Path) -> str:
    from flows.exchange import exchange

    return str(exchange(str(RECIPE), out=str(out))["state"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    imports = {"core_import_s": _import_s(CORE_IMPORTS, 3),
               "flow_import_s": _import_s(("flows.exchange",), 3)}
    sys.path.insert(0, str(ROOT))
    from prefect.testing.utilities import prefect_test_harness

    import flows.exchange  # noqa: F401 - imports are not part of either run
    import mscrobot.report.html  # noqa: F401

    t0 = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=180), \
            tempfile.TemporaryDirectory() as tmp:
        server_start = time.perf_counter() - t0
        warm: dict[str, float] = {}
        core, flow = [], []
        for i in range(args.repeat + 1):
            for name, fn, times in (("core", _core, core), ("flow", _flow, flow)):
                t0 = time.perf_counter()
                state = fn(Path(tmp) / f"{name}{i}")
                wall = time.perf_counter() - t0
                if state != "completed":
                    raise SystemExit(f"{name} run ended {state}")
                if i == 0:
                    warm[name] = wall
                else:
                    times.append(wall)
    core_s, flow_s = statistics.median(core), statistics.median(flow)
    result = {
        "recipe": str(RECIPE.relative_to(ROOT)), "repeat": args.repeat,
        "core_s": core_s, "flow_s": flow_s, "overhead_s": flow_s - core_s,
        "ratio": flow_s / core_s, "target_s": 1.1 * core_s + 2, "meets_target":
        flow_s <= 1.1 * core_s + 2, "core_runs_s": core, "flow_runs_s": flow,
        "first_core_s": warm["core"], "first_flow_s": warm["flow"],
        "server_start_s": server_start, **imports,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"reference recipe, median of {args.repeat}: core {core_s:.2f} s, flow {flow_s:.2f} s "
          f"(+{flow_s - core_s:.2f} s, {flow_s / core_s:.2f}x; target ≤ "
          f"{result['target_s']:.2f} s: {'met' if result['meets_target'] else 'missed'})")
    print(f"  first runs: core {warm['core']:.2f} s, flow {warm['flow']:.2f} s; server start "
          f"{server_start:.1f} s; imports (fresh interpreter): core "
          f"{imports['core_import_s']:.2f} s, flow module {imports['flow_import_s']:.2f} s")


if __name__ == "__main__":
    main()
