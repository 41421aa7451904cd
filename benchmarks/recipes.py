"""Recipe tools speed: CLI cold start, in-process load of every example, import costs.

    uv run python benchmarks/recipes.py [--repeat 5] [--json]

Ratios are measured in the same run (this machine is noisy): `recipe check` cold start versus a
bare `python -c pass`, and the recipe package import versus `import opentrons` / `import prefect`,
which the recipe tools must never pay for.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(str(p) for p in (ROOT / "recipes").glob("*.yaml"))


def _wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    py = sys.executable
    bare = _wall([py, "-c", "pass"], args.repeat)
    check = _wall([py, "-m", "mscrobot.cli", "recipe", "check", *EXAMPLES], args.repeat)
    imp = {name: _wall([py, "-c", f"import {mod}"], args.repeat) - bare
           for name, mod in (("mscrobot.recipe", "mscrobot.recipe"),
                             ("opentrons", "opentrons.simulate"), ("prefect", "prefect"))}

    from mscrobot.recipe import load_recipe

    load_recipe(EXAMPLES[0])  # warm: registry and model schemas built once per process
    per_recipe = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for path in EXAMPLES:
            load_recipe(path)
        per_recipe.append((time.perf_counter() - t0) / len(EXAMPLES))
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "repeat": args.repeat,
        "examples": len(EXAMPLES),
        "python_startup_s": round(bare, 3),
        "recipe_check_all_examples_s": round(check, 3),
        "load_one_recipe_warm_ms": round(statistics.median(per_recipe) * 1000, 2),
        "import_s": {k: round(v, 3) for k, v in imp.items()},
        "recipe_import_vs_opentrons": round(imp["mscrobot.recipe"] / imp["opentrons"], 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:32} {v}")


if __name__ == "__main__":
    main()
