"""What a campaign asks the operator to prepare, and the labs a campaign refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from mscrobot.campaign.loader import CampaignError, load_campaign
from mscrobot.campaign.stocks import stock_sheet
from mscrobot.procedure.plan import worst_case_volumes
from mscrobot.recipe.amounts import amounts
from mscrobot.units import format_molar

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "recipes" / "campaign-example.yaml"


def test_runs_share_a_stock_exactly_when_its_contents_are_equal() -> None:
    loaded = load_campaign(EXAMPLE)
    recipes = [r.recipe for r in loaded.runs]
    sheet = stock_sheet(recipes, loaded.lab)
    salts = [s for s in sheet if s.position == "salt_stock"]
    # 3 salts × 2 concentrations (equivalents), each shared by its 2 stir rates
    assert len(salts) == 6 and all(len(s.runs) == 2 for s in salts)
    for s in salts:  # the runs on one vial have one salt solution, and the sheet names it
        [(compound, molar)] = {(recipes[k].salt.compound, recipes[k].salt.concentration)
                               for k in s.runs}
        assert s.contents.startswith(f"{compound} {format_molar(molar.m_as('M'))} in")
    for position in ("salt_stock", "cluster_stock", "hexane_stock", "ola_stock"):
        rows = [s for s in sheet if s.position == position]
        assert sorted(k for s in rows for k in s.runs) == list(range(len(recipes)))
        total = sum(worst_case_volumes(r)[position] for r in recipes)
        assert sum(s.worst_case_ul for s in rows) == pytest.approx(total)
        vial = s.deck_holds_ul
        mg = amounts(recipes[s.runs[0]]).salt_mg(vial)
        assert s.weigh == f"{mg:.3g} mg {compound} in {vial / 1000:.3g} mL"
    assert "3e-05 M" not in " ".join(s.contents for s in salts)  # written as a chemist would
    [cluster] = [s for s in sheet if s.position == "cluster_stock"]
    assert cluster.weigh.endswith("mg (CdS)34 (capped) in 15 mL")
    assert cluster.short == (cluster.worst_case_ul > cluster.deck_holds_ul)
    assert cluster.short  # 12 × 1.5 mL of clusters against one 15 mL vial


def test_a_short_stock_is_a_warning_on_the_lab_line() -> None:
    loaded = load_campaign(EXAMPLE)
    warned = [str(w) for w in loaded.warnings if "may take" in w.message]
    assert any("cluster_stock" in w and w.startswith(f"{EXAMPLE}:9:") for w in warned), warned
    assert not any("ola_stock" in w for w in warned)


@pytest.mark.parametrize("lab", ["emulated.yaml", "opentrons-emulated.yaml"])
def test_a_lab_with_real_instruments_is_refused(lab: str) -> None:
    with pytest.raises(CampaignError) as info:
        load_campaign(EXAMPLE, str(ROOT / "hardware" / "labs" / lab))
    [problem] = [p for p in info.value.problems if "reaction vial" in p.message]
    assert problem.line == 9 and "robot at http://127.0.0.1:31950" in problem.message


def test_simulated_labs_are_accepted() -> None:
    for lab in ("simulated", "twin"):
        assert len(load_campaign(EXAMPLE, lab).runs) == 12
