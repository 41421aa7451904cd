"""Campaign files a person got wrong: one placed line each, exit 2, no campaign folder."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mscrobot.cli import app

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "recipes" / "cds34-zncl2.yaml"


def _refused(tmp_path: Path, text: str, *needles: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "campaigns"
    result = CliRunner().invoke(app, ["campaign", str(path), "--out", str(out)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "internal error" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    assert not out.exists() or not any(out.iterdir())
    return result.stderr


def test_a_complex_key_in_the_grid_is_placed(tmp_path: Path) -> None:
    _refused(tmp_path, f"name: c\ngrid:\n  base: {BASE}\n  vary:\n    ? [salt.compound]\n"
             "    : [ZnCl2]\n", "c.yaml:5:7: grid.vary: a key must be a name, not a list")
