"""Helpers for engine tests: run the CLI in a subprocess or in process (CliRunner), run a
recipe in process, read a run's end state."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mscrobot.app.labs import assemble_lab
from mscrobot.app.runs import RunInfo, create_run, execute, load_run
from mscrobot.cli import app
from mscrobot.engine.journal import Journal
from mscrobot.engine.runner import RunEnd
from mscrobot.lab.config import lab_from_text, load_lab
from mscrobot.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "recipes" / "cds34-zncl2.yaml"
SUBTHRESHOLD = ROOT / "recipes" / "cds34-zncl2-subthreshold.yaml"
#: The engine's tests run on the twin lab (no Opentrons engine: ~4 s less per process); the
#: Opentrons-checked default lab has its own tests in tests/lab/opentrons and a crash matrix.
TWIN = "twin"


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mscrobot.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, cwd=cwd,
                          timeout=timeout, check=False)


@dataclass
class Ran:
    """What a command did, read as from a process: exit code, stdout, stderr."""

    returncode: int
    stdout: str
    stderr: str


def invoke(*args: str, env: dict[str, str] | None = None) -> Ran:
    """The command line in this process (Typer's CliRunner on ``mscrobot.cli.app``), for tests
    of exit codes and messages: no interpreter start-up and imports per command. An exception
    that would have reached ``main`` (an 'internal error') is raised here, failing the test."""
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def run_folders(out: Path) -> list[Path]:
    """Runs in ``out`` (a run still being created is a hidden ``.new-…`` folder: not a run)."""
    if not out.is_dir():
        return []
    return [p for p in out.iterdir()
            if not p.name.startswith(".") and (p / "journal.sqlite").exists()]


def only_run(out: Path) -> Path:
    runs = run_folders(out)
    assert len(runs) == 1, runs
    return runs[0]


def lab_text(**changes: str) -> str:
    """The shipped twin lab with some lines replaced (key: 'old' -> new text)."""
    _, text = load_lab(TWIN)
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def dry_run(tmp: Path, recipe: Path = REFERENCE, seed: int = 0,
            lab: str | None = None) -> tuple[RunInfo, RunEnd]:
    loaded = load_recipe(recipe)
    text = lab if lab is not None else load_lab(TWIN)[1]
    info = create_run(loaded.recipe, recipe.read_text(), str(recipe), lab_from_text(text), text,
                      seed, tmp)
    return info, execute(info)


def end_state(run_dir: Path) -> dict[str, Any]:
    """Everything two runs of one seed must agree on, read from the journal and the world."""
    info = load_run(run_dir)
    journal = Journal(run_dir / "journal.sqlite")
    try:
        verdicts = [(v["stage"], v["state"], v["action"]) for v in journal.verdicts()]
        spectra = journal.spectra()
        digest = hashlib.sha256(b"".join(s.counts.tobytes() for s in spectra)).hexdigest()
        steps = [(s.kind, json.dumps(s.params, sort_keys=True), s.status)
                 for s in journal.steps()]
        state = journal.state()
    finally:
        journal.close()
    events = [json.loads(line) for line in
              (run_dir / "world.jsonl").read_text().splitlines()]
    dispenses = [e["id"] for e in events if e["op"] == "dispense"]
    samples = [e["id"] for e in events if e["op"] == "sample"]
    built = assemble_lab(info.lab, info.recipe, info.seed, run_dir)
    try:
        assert built.world is not None
        truth = built.world.truth()
    finally:
        built.lab.close()
    return {"state": state[0] if state else None, "verdicts": verdicts,
            "spectra": len(spectra), "spectra_digest": digest, "steps": steps,
            "dispense_ops": dispenses, "sample_ops": samples,
            "volumes": {k: round(v, 9) for k, v in truth["vessels"].items()},
            "lab_t": round(truth["t"], 9), "transfer": round(truth.get("transfer", 0.0), 12)}
