"""The operator's answers to a run that asks (continue / extend / add_salt / abort): what each
does to the vial, which ones a question refuses and why, and that the journal keeps the choice.

A sub-threshold recipe stalls past its stall policy (extend, add salt, stop) and asks; each test
answers it in process on the twin lab."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mscrobot.app.runs import RunError, RunInfo, create_run, execute, resolve
from mscrobot.decide.observations import Stage
from mscrobot.engine.journal import Journal, StepRecord
from mscrobot.engine.runner import RunEnd
from mscrobot.engine.states import RunState
from mscrobot.lab.config import load_lab
from mscrobot.procedure.plan import ExchangePlan
from mscrobot.procedure.steps import OPERATOR_CHOICES
from mscrobot.recipe.loader import load_recipe_text
from tests.engine.runs import SUBTHRESHOLD

NO_ADD_SALT = SUBTHRESHOLD.read_text().replace(
    "  - action: add_salt\n    volume: 50 uL\n    times: 1\n", "")


def _asking(tmp: Path, text: str | None = None) -> tuple[RunInfo, RunEnd]:
    """A sub-threshold run on the twin lab, stopped at its first question to the operator."""
    text = SUBTHRESHOLD.read_text() if text is None else text
    lab, lab_text = load_lab("twin")
    info = create_run(load_recipe_text(text, str(SUBTHRESHOLD)).recipe, text, str(SUBTHRESHOLD),
                      lab, lab_text, 0, tmp)
    end = execute(info)
    assert end.state == RunState.AWAITING_OPERATOR and end.pending is not None
    return info, end


def _answered(tmp: Path, answer: str) -> tuple[int, RunEnd, list[StepRecord], list[dict]]:
    """Answer the first question, resume; the asking step, the end, the steps, the verdicts."""
    info, first = _asking(tmp)
    assert first.pending is not None
    step = first.pending["step"]
    resolve(info.path, step, answer)
    end = execute(info)
    journal = Journal(info.path / "journal.sqlite")
    try:
        assert [(a["step"], a["answer"]) for a in journal.answers()] == [(step, answer)]
        return step, end, journal.steps(), journal.verdicts()
    finally:
        journal.close()


def _stirred(steps: list[StepRecord], after: int, before: int) -> float:
    return sum(s.params["seconds"] for s in steps if after < s.n < before
               and s.kind == "wait" and s.params["why"] == "stirring")


def test_the_question_offers_the_four_answers_with_their_flags(tmp_path: Path) -> None:
    _, end = _asking(tmp_path)
    assert end.pending is not None
    assert end.pending["choices"] == list(OPERATOR_CHOICES)
    assert "--continue|--extend|--add-salt|--abort" in end.reason


def test_continue_stirs_one_interval_and_asks_again(tmp_path: Path) -> None:
    step, end, steps, verdicts = _answered(tmp_path, "continue")
    assert end.state == RunState.AWAITING_OPERATOR and end.pending is not None
    assert _stirred(steps, step, end.pending["step"]) == 120.0  # the sampling interval
    assert [(v["state"], v["action"]) for v in verdicts if v["step"] > step] == [
        ("stalled", "stop_for_operator")]


def test_extend_grants_more_stirring_before_the_next_question(tmp_path: Path) -> None:
    step, end, steps, verdicts = _answered(tmp_path, "extend")
    assert end.state == RunState.AWAITING_OPERATOR and end.pending is not None
    after = [(v["state"], v["action"]) for v in verdicts if v["step"] > step]
    assert after[0] == ("in_progress", "continue")  # judged within the extended time
    assert after[-1] == ("stalled", "stop_for_operator")
    assert _stirred(steps, step, end.pending["step"]) > 120.0
    # the extend rung (5 min) more on the stirring time the recipe's policy granted (35 min)
    assert "stirred 40 min" in verdicts[-1]["reasons"][0]


def test_add_salt_doses_the_policy_volume_then_stirs(tmp_path: Path) -> None:
    step, _, steps, _ = _answered(tmp_path, "add_salt")
    dose = steps[step]  # the step right after the question (steps are numbered from 1)
    assert dose.kind == "dispense" and dose.n == step + 1
    assert (dose.params["source"], dose.params["dest"], dose.params["volume_ul"],
            dose.params["layer"]) == ("salt_stock", "reaction", 50.0, "polar")
    assert [s.kind for s in steps[step + 1:step + 4]] == ["stir", "wait", "stop_stir"]
    before = [s.outcome["vessels"] for s in steps[:step] if s.outcome and "vessels" in s.outcome]
    assert dose.outcome is not None
    assert dose.outcome["vessels"]["salt_stock"] == pytest.approx(before[-1]["salt_stock"] - 50)
    assert dose.outcome["vessels"]["reaction"] == pytest.approx(before[-1]["reaction"] + 50)


def test_abort_ends_the_run_with_the_stirrer_off(tmp_path: Path) -> None:
    step, end, steps, _ = _answered(tmp_path, "abort")
    assert end.state == RunState.COMPLETED and end.reason == "operator_aborted"
    assert end.result is not None and end.result.end == "operator_aborted"
    assert steps[-1].n == step and steps[-1].kind == "ask_operator"  # nothing after it
    world = [json.loads(x) for x in
             (next(tmp_path.iterdir()) / "world.jsonl").read_text().splitlines()]
    assert [e for e in world if e["op"] == "stir"][-1]["rpm"] == 0.0


def test_answers_not_offered_are_refused_with_the_reason(tmp_path: Path) -> None:
    info, end = _asking(tmp_path / "a")
    assert end.pending is not None
    with pytest.raises(RunError, match="answer --continue, --extend, --add-salt, --abort"):
        resolve(info.path, end.pending["step"], "finish")
    with pytest.raises(RunError, match="answer --continue"):
        resolve(info.path, end.pending["step"], "done")
    info, end = _asking(tmp_path / "b", NO_ADD_SALT)
    assert end.pending is not None and "add_salt" not in end.pending["choices"]
    with pytest.raises(RunError, match=r"does not take --add-salt here: the recipe's stall "
                                       r"policy \(on_stall\) has no add_salt rung"):
        resolve(info.path, end.pending["step"], "add_salt")
    journal = Journal(info.path / "journal.sqlite")
    try:
        assert journal.answers() == []  # nothing recorded
    finally:
        journal.close()


def test_add_salt_is_refused_where_the_vial_or_the_stock_cannot_take_it() -> None:
    recipe = load_recipe_text(SUBTHRESHOLD.read_text(), str(SUBTHRESHOLD)).recipe
    plan = ExchangePlan(recipe)
    plan.ledger.polar, plan.ledger.nonpolar = 1500.0, 1500.0
    assert plan.refused_answers(Stage.FORWARD) == {}
    # an 8 mL vial takes 6.4 mL; the back-exchange still has to add 1 mL hexane and 50 µL OLA
    plan.ledger.polar = 6400.0 - 1500.0 - 1050.0 - 49.0
    assert "add_salt" in plan.refused_answers(Stage.FORWARD)
    assert "would not fit" in plan.refused_answers(Stage.FORWARD)["add_salt"]
    plan.ledger.polar = 1500.0
    plan.vessels = {"salt_stock": 40.0}
    assert plan.refused_answers(Stage.FORWARD) == {
        "add_salt": "the salt stock holds 40 µL, less than the 50 µL dose"}
    assert set(plan.refused_answers(Stage.BACK)) == {"extend", "add_salt"}


def test_a_question_journaled_with_the_older_choices_still_resumes(tmp_path: Path) -> None:
    """A run that asked before 'finish' became 'abort' is answered and resumed, not refused."""
    info, end = _asking(tmp_path)
    assert end.pending is not None
    step = end.pending["step"]
    journal = Journal(info.path / "journal.sqlite")
    try:
        old = {"question": journal.step(step).params["question"],  # type: ignore[union-attr]
               "choices": ["continue", "finish"]}
        journal.db.execute("update steps set params = ? where n = ?", (json.dumps(old), step))
    finally:
        journal.close()
    resolve(info.path, step, "finish")
    final = execute(info)
    assert final.state == RunState.COMPLETED and final.reason == "operator_aborted"
    assert final.replayed == step - 1
