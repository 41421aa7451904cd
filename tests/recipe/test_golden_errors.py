"""Golden tests: what `mscrobot recipe check` says about malformed recipes.

Each file in ``malformed/`` has a ``.expected`` twin holding the exact stderr lines. To accept new
output after a deliberate change, run
``UPDATE_GOLDEN=1 uv run pytest tests/recipe/test_golden_errors.py``
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mscrobot.cli import app

HERE = Path(__file__).parent
CASES = sorted(p for p in (HERE / "malformed").iterdir() if p.suffix in (".yaml", ".json"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_recipe_errors_match_golden(case: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.chdir(HERE)
    result = CliRunner().invoke(app, ["recipe", "check", f"malformed/{case.name}"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith(f"malformed/{case.name}:") for line in lines)
    expected = case.with_suffix(".expected")
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(result.stderr, encoding="utf-8")
    assert result.stderr == expected.read_text(encoding="utf-8")


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("name: x\n" + "# padding\n" * 120_000, encoding="utf-8")
    result = CliRunner().invoke(app, ["recipe", "check", str(big)])
    assert result.exit_code == 2
    assert "documents are at most 1048576 bytes" in result.stderr


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["recipe", "check", str(deep)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{deep}:1:")
