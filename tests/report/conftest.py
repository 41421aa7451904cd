"""Real runs on the simulated lab, made once per session: the report reads what the engine wrote.

One run per end state a report must handle: completed, awaiting the operator (the stall recipe),
failed (an injected stirrer fault), stopped before any step, and created but never executed
(no spectra, and a recipe name that would be markup if it were not escaped).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from mscrobot.app.runs import create_run, execute
from mscrobot.lab.config import lab_from_text, load_lab
from mscrobot.recipe.loader import load_recipe_text

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_NAME = "<script>alert('x')</script> & co"


@dataclass(frozen=True)
class Runs:
    root: Path
    completed: Path
    awaiting: Path
    failed: Path
    stopped: Path
    fresh: Path


def _run(runs: Path, recipe_file: str, *, lab_text: str | None = None, stop: bool = False,
         execute_it: bool = True, name: str | None = None) -> Path:
    source = f"recipes/{recipe_file}"
    text = (ROOT / source).read_text(encoding="utf-8")
    if name is not None:
        old = load_recipe_text(text).recipe.name
        text = text.replace(f"name: {old}\n", f'name: "{name}"\n', 1)
    lab, default_text = load_lab()
    if lab_text is not None:
        lab = lab_from_text(lab_text)
    info = create_run(load_recipe_text(text, source).recipe, text, source, lab,
                      lab_text or default_text, 0, runs)
    if execute_it:
        flag = threading.Event()
        if stop:
            flag.set()
        execute(info, stop_requested=flag)
    return info.path


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("runs")
    _, lab_text = load_lab()
    faulty = lab_text.replace("  max_rpm: 1500 rpm\n", "  max_rpm: 1500 rpm\n  fault_after: 0\n")
    assert faulty != lab_text
    return Runs(
        root=root,
        completed=_run(root, "cds34-zncl2.yaml"),
        awaiting=_run(root, "cds34-zncl2-subthreshold.yaml"),
        failed=_run(root, "cds34-zncl2.yaml", lab_text=faulty),
        stopped=_run(root, "cds34-zn-acetate.yaml", stop=True),
        fresh=_run(root, "cds34-zncl2.yaml", execute_it=False, name=HOSTILE_NAME),
    )
