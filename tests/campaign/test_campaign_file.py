"""Campaign files: what they expand to, and errors that name the campaign file's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from mscrobot.campaign.loader import CampaignError, load_campaign

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "recipes" / "cds34-zncl2.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    return [str(p) for p in info.value.problems]


def test_the_example_campaign_has_twelve_runs_on_four_positions() -> None:
    loaded = load_campaign(ROOT / "recipes" / "campaign-example.yaml")
    assert len(loaded.runs) >= 12 and loaded.campaign.resources.stir_positions == 4
    assert loaded.campaign.ahead == 1 and loaded.campaign.resources.speed_groups() == []
    assert [r.seed for r in loaded.runs] == list(range(len(loaded.runs)))
    assert len({(r.recipe.salt.compound, round(r.recipe.equivalents_per_cluster()),
                 r.recipe.exchange.stir_rate) for r in loaded.runs}) == len(loaded.runs)


def test_grid_sets_fields_and_equivalents(tmp_path: Path) -> None:
    path = _write(tmp_path, f"""name: g
recipes: [{BASE}]
replicates: 2
seed: 5
grid:
  base: {BASE}
  vary:
    salt.compound: [ZnCl2, Zn(OAc)2]
    equivalents: [20]
""")
    runs = load_campaign(path).runs
    assert len(runs) == 6 and [r.seed for r in runs] == list(range(5, 11))
    grid = runs[2:]
    assert [r.recipe.salt.compound for r in grid] == ["ZnCl2", "ZnCl2", "Zn(OAc)2", "Zn(OAc)2"]
    assert all(r.recipe.equivalents_per_cluster() == pytest.approx(20) for r in grid)
    assert grid[0].axes == {"salt.compound": "ZnCl2", "equivalents": "20"}


def test_errors_name_the_campaign_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, f"""name: bad
resources:
  stir_positons: 4
grid:
  base: {BASE}
  vary:
    salt.compund: [ZnCl2]
""")
    assert _errors(path) == [f"{path}:3:3: resources.stir_positons: unknown field "
                             "'stir_positons'; did you mean 'stir_positions'?"]
    path = _write(tmp_path, f"""name: bad
grid:
  base: {BASE}
  vary:
    salt.compund: [ZnCl2]
""")
    assert _errors(path) == [f"{path}:5:19: grid.vary.salt.compund: unknown recipe field "
                             "'salt.compund'"]


def test_a_bad_grid_value_points_at_that_value(tmp_path: Path) -> None:
    path = _write(tmp_path, f"""name: bad
grid:
  base: {BASE}
  vary:
    salt.compound: [ZnCl2, ZnCl3]
    exchange.stir_rate: [1000 rpm, 12 m]
""")
    errors = _errors(path)
    assert any(e.startswith(f"{path}:5:28: grid.vary.salt.compound[1]: ZnCl3: unknown salt")
               for e in errors), errors
    assert any(e.startswith(f"{path}:6:36: grid.vary.exchange.stir_rate[1]: 12 m:")
               for e in errors), errors


def test_lab_limits_and_missing_files_are_placed(tmp_path: Path) -> None:
    path = _write(tmp_path, f"""name: bad
recipes:
  - {BASE}
  - nowhere.yaml
grid:
  base: {BASE}
  vary:
    exchange.stir_rate: [1400 rpm, 2000 rpm]
""")
    errors = _errors(path)
    assert errors[0].startswith(f"{path}:4:5: recipes[1]: recipe nowhere.yaml: ")
    assert "no such file" in errors[0]
    assert any(e.startswith(f"{path}:6:3: grid: lab 'simulated' cannot run the grid point "
                            "exchange.stir_rate=2000 rpm: the stirrer reaches 1500 rpm")
               for e in errors), errors


def test_a_campaign_needs_runs(tmp_path: Path) -> None:
    assert _errors(_write(tmp_path, "name: empty\n")) == [
        f"{tmp_path / 'c.yaml'}:1:1: a campaign needs 'recipes' (a list of files), a 'grid', "
        "or both"]


def test_shared_speed_groups_are_read_and_checked(tmp_path: Path) -> None:
    def text(shared: str) -> str:
        return (f"name: s\nresources:\n  stir_positions: 4\n  shared_speed: {shared}\n"
                f"recipes: [{BASE}]\n")

    assert load_campaign(_write(tmp_path, text("true"))).campaign.resources.speed_groups() == [
        [0, 1, 2, 3]]
    loaded = load_campaign(_write(tmp_path, text("[[0, 1], [3]]")))
    assert loaded.campaign.resources.speed_groups() == [[0, 1], [3]]
    assert load_campaign(_write(tmp_path, text("false"))).campaign.resources.speed_groups() == []
    path = _write(tmp_path, text("[[0, 1], [1, 4]]"))
    assert _errors(path) == [f"{path}:4:17: resources.shared_speed: position 1 is in two groups"]
    path = _write(tmp_path, text("[[0, 4]]"))
    assert _errors(path) == [f"{path}:4:17: resources.shared_speed: position 4 is not one of "
                             "the 4 stir positions (0 to 3)"]
