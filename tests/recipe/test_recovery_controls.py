"""monitoring.recovery in a recipe: defaults, 0 turning an action off, one-line errors."""

from __future__ import annotations

import pytest

from mscrobot.recipe import load_recipe_text
from mscrobot.yamldoc import DocumentError

BASE = """name: r
cluster: {material: CdS, concentration: 20 uM, volume: 1.5 mL}
salt: {compound: ZnCl2, concentration: 0.05 M, volume: 1.5 mL}
"""


def test_the_defaults_suit_the_paper_system() -> None:
    rc = load_recipe_text(BASE, "r.yaml").recipe.monitoring.recovery
    assert (rc.resample, rc.flushes, rc.scans_max) == (2, 2, 16)
    assert rc.settle_max.m_as("min") == pytest.approx(10.0)


def test_zero_is_accepted_for_every_control() -> None:
    text = (
        BASE + "monitoring: {recovery: {resample: 0, flushes: 0, settle_max: 0 s, scans_max: 0}}\n"
    )
    rc = load_recipe_text(text, "r.yaml").recipe.monitoring.recovery
    assert (rc.resample, rc.flushes, rc.settle_max.m_as("s"), rc.scans_max) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("control", "value", "says"),
    [
        ("resample", "-1", "monitoring.recovery.resample"),
        ("flushes", "9", "monitoring.recovery.flushes"),
        ("settle_max", "5 uL", "monitoring.recovery.settle_max"),
        ("settle_max", "-2 min", "monitoring.recovery.settle_max"),
        ("scans_max", "500", "monitoring.recovery.scans_max"),
        ("retries", "2", "monitoring.recovery.retries"),
    ],
)
def test_a_bad_value_is_one_line_naming_file_line_and_field(
    control: str, value: str, says: str
) -> None:
    text = BASE + f"monitoring:\n  recovery: {{{control}: {value}}}\n"
    with pytest.raises(DocumentError) as e:
        load_recipe_text(text, "r.yaml")
    message = str(e.value)
    assert message.startswith("r.yaml:5:") and says in message and "\n" not in message.strip()
