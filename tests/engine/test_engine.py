"""The engine on the simulated lab, in process: journaling, equivalence with the twin loop,
device faults, transient retries, the run state machine."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from mscrobot.app.dryrun import simulate
from mscrobot.app.runs import create_run, execute
from mscrobot.engine.events import Event, EventKind
from mscrobot.engine.journal import Journal
from mscrobot.engine.states import IllegalRunTransitionError, RunState, check_move
from mscrobot.lab.config import lab_from_text, load_lab
from mscrobot.recipe.loader import load_recipe
from tests.engine.runs import REFERENCE, TWIN, dry_run, end_state, lab_text


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_persisted_run_decides_as_the_in_memory_simulation(tmp_path: Path,
                                                               seed: int) -> None:
    """Journaling every step and logging the world must not change what happens: the run on
    disk and the in-memory simulation of the benchmarks see the same verdicts."""
    _, end = dry_run(tmp_path, seed=seed)
    twin = simulate(load_recipe(REFERENCE).recipe, seed=seed)
    assert end.result is not None
    assert [(v.state, v.action) for v in end.result.forward] == \
        [(s.verdict.state, s.verdict.action) for s in twin.forward]
    assert [(v.state, v.action) for v in end.result.back] == \
        [(s.verdict.state, s.verdict.action) for s in twin.back]


def test_dry_run_journals_every_step_with_intent_and_outcome(tmp_path: Path) -> None:
    info, end = dry_run(tmp_path)
    assert end.state == RunState.COMPLETED and end.result is not None
    assert end.result.forward[-1].state == "complete"
    assert end.result.back[-1].state == "complete"
    journal = Journal(info.path / "journal.sqlite")
    steps = journal.steps()
    assert [s.n for s in steps] == list(range(1, len(steps) + 1))
    assert all(s.status == "done" and s.outcome is not None for s in steps)
    kinds = [s.kind for s in steps]
    # both references before the phases meet, then salt, then clusters
    assert kinds[:8] == ["sample", "reference", "discard"] * 2 + ["dispense", "dispense"]
    assert [s.params["vessel"] for s in steps[:4:3]] == ["salt_stock", "hexane_stock"]
    # a dark and a reference with each reference step, the sample with each measure step
    references = [s for s in steps if s.kind == "reference"]
    assert [s.params["blank"] for s in references] == ["polar_salt", "nonpolar", "nonpolar_ola"]
    measures = [s for s in steps if s.kind == "measure"]
    spectra = journal.spectra()
    assert len(spectra) == 2 * len(references) + len(measures)
    assert {sp.meta["step"] for sp in spectra} == {s.n for s in references + measures}
    # every sample read at its blank's reference integration time, the OLA blank after OLA
    ola = next(s.n for s in steps if s.kind == "dispense" and s.params["source"] == "ola_stock")
    for m in measures:
        ref = max((r for r in references if r.params["blank"] == m.params["blank"]
                   and r.n < m.n), key=lambda r: r.n)
        assert m.params["integration_ms"] == ref.outcome["integration_ms"]  # type: ignore[index]
        assert (m.params["blank"] == "nonpolar_ola") == (m.params["phase"] == "nonpolar"
                                                          and m.n > ola)
    # every verdict stored with its decide step, in order
    decides = [s.n for s in steps if s.kind == "decide"]
    assert [v["step"] for v in journal.verdicts()] == decides
    assert [s["state"] for s in journal.states()] == ["created", "running", "completed"]
    journal.close()
    # the physical world agrees with the plan's bookkeeping of the reaction vial
    state = end_state(info.path)
    recipe = info.recipe
    into_vial = [json.loads(p) for k, p, _ in state["steps"] if k in ("dispense", "sample")]
    dispensed = sum(p["volume_ul"] for p in into_vial if p.get("dest") == "reaction")
    sampled = sum(p["volume_ul"] for p in into_vial if p.get("vessel") == "reaction")
    assert state["volumes"]["reaction"] == pytest.approx(dispensed - sampled)
    assert state["volumes"]["salt_stock"] == pytest.approx(
        15000 - float(recipe.salt.volume.m_as("uL")) - 20.0)  # the polar blank drew 20 µL
    assert state["volumes"]["flow_cell"] == 0.0  # flushed after every read


def test_a_device_fault_stops_the_run_safely_with_the_journal_intact(tmp_path: Path) -> None:
    lab = lab_text(**{"max_rpm: 1500 rpm": "max_rpm: 1500 rpm\n  fault_after: 2"})
    info, end = dry_run(tmp_path, lab=lab)
    assert end.state == RunState.FAILED
    assert "magnet decoupled" in end.reason
    journal = Journal(info.path / "journal.sqlite")
    failed = [s for s in journal.steps() if s.status == "failed"]
    assert len(failed) == 1 and failed[0].kind == "stir" and failed[0].attempts == 0
    assert all(s.status == "done" for s in journal.steps() if s.n < failed[0].n)
    assert journal.state() is not None and journal.state()[0] == "failed"  # type: ignore[index]
    journal.close()
    events = [json.loads(x) for x in (info.path / "world.jsonl").read_text().splitlines()]
    stirs = [e for e in events if e["op"] == "stir"]
    assert stirs[-1]["rpm"] == 0.0  # the motor is off
    # resumed, the failed step runs again (the injected fault hits every stirrer change from
    # the third one in a process, so it passes now and the run fails further on)
    from mscrobot.app.runs import execute

    again = execute(info)
    assert again.replayed == failed[0].n - 1 and again.steps > failed[0].n + 1
    journal = Journal(info.path / "journal.sqlite")
    assert journal.step(failed[0].n).status == "done"  # type: ignore[union-attr]
    journal.close()


def test_transient_errors_are_retried_and_journaled(tmp_path: Path) -> None:
    lab = lab_text(**{"sample_time: 20 s": "sample_time: 20 s\n  transient_failures: 2"})
    info, end = dry_run(tmp_path, lab=lab)
    assert end.state == RunState.COMPLETED
    journal = Journal(info.path / "journal.sqlite")
    first = journal.steps()[0]  # drawing the polar blank failed twice, then went through
    assert first.kind == "sample" and first.attempts == 2 and first.status == "done"
    assert all(s.attempts == 0 for s in journal.steps()[1:])
    journal.close()
    events = [json.loads(x) for x in (info.path / "world.jsonl").read_text().splitlines()]
    ids = [e["id"] for e in events if e["op"] in ("dispense", "sample")]
    assert len(ids) == len(set(ids))  # retried, never done twice


def test_run_state_machine_refuses_illegal_moves() -> None:
    check_move(RunState.RUNNING, RunState.COMPLETED)
    check_move(RunState.AWAITING_OPERATOR, RunState.RUNNING)
    for before, after in [(RunState.COMPLETED, RunState.RUNNING),
                          (RunState.CREATED, RunState.COMPLETED),
                          (RunState.STOPPED, RunState.COMPLETED),
                          (RunState.PAUSED, RunState.FAILED)]:
        with pytest.raises(IllegalRunTransitionError):
            check_move(before, after)


def test_resuming_a_completed_run_replays_it_and_touches_nothing(tmp_path: Path) -> None:
    from mscrobot.app.runs import execute

    info, end = dry_run(tmp_path)
    assert end.state == RunState.COMPLETED
    world = (info.path / "world.jsonl").read_bytes()
    again = execute(info)
    assert again.state == RunState.COMPLETED and again.replayed == end.steps
    assert again.result is not None and end.result is not None
    assert again.result.forward == end.result.forward
    assert (info.path / "world.jsonl").read_bytes() == world
    journal = Journal(info.path / "journal.sqlite")
    assert [s["state"] for s in journal.states()] == ["created", "running", "completed"]
    journal.close()


def test_a_run_stopped_while_stirring_stirs_again_when_resumed(tmp_path: Path) -> None:
    loaded = load_recipe(REFERENCE)
    text = load_lab(TWIN)[1]
    info = create_run(loaded.recipe, REFERENCE.read_text(), str(REFERENCE), lab_from_text(text),
                      text, 0, tmp_path)
    stop = threading.Event()

    def stop_after_stir(event: Event) -> None:
        if event.kind == EventKind.STEP and event.step is not None and event.step.kind == "stir":
            stop.set()  # Ctrl-C right after the stirrer started

    assert execute(info, stop_after_stir, stop).state == RunState.STOPPED
    events: list[Event] = []
    assert execute(info, events.append).state == RunState.COMPLETED
    restored = [e for e in events if e.kind == EventKind.RESTORE]
    assert len(restored) == 1 and "1000 rpm" in restored[0].message
    log = [json.loads(x) for x in (info.path / "world.jsonl").read_text().splitlines()]
    first_wait = next(i for i, e in enumerate(log) if e["op"] == "advance")
    stirs = [e["rpm"] for e in log[:first_wait] if e["op"] == "stir"]
    assert stirs == [1000.0, 0.0, 1000.0]  # started, stopped safely, started again
