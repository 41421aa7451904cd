"""Phase-transfer and back-exchange decisions from spectra history (pure; DESIGN.md §4)."""

from mscrobot.decide.observations import DecisionSettings, Observation, Stage
from mscrobot.decide.rules import ForwardJudge, judge_back, judge_forward, judge_forward_all
from mscrobot.decide.verdicts import Action, State, Verdict

__all__ = [
    "Action",
    "DecisionSettings",
    "ForwardJudge",
    "Observation",
    "Stage",
    "State",
    "Verdict",
    "judge_back",
    "judge_forward",
    "judge_forward_all",
]
