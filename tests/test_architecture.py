"""The layering rules, read from the imports of every module (lazy and TYPE_CHECKING ones too).

The lab never drives the engine; the engine knows a lab only by its Protocols; decisions,
spectra, the twin and the plan do no I/O; recipes never see a lab; nothing but the CLI imports
the CLI, and nothing in the package imports Prefect or the flows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mscrobot"

#: Standard-library and third-party modules that touch files, processes, sockets, devices or
#: the clock: the pure core imports none of them.
IO_MODULES = ("os", "io", "pathlib", "shutil", "tempfile", "sqlite3", "socket", "subprocess",
              "serial", "httpx", "seabreeze", "time", "threading", "signal", "fcntl",
              "mscrobot.storage", "mscrobot.yamldoc")

#: (modules the rule is about, prefixes they must not import, prefixes allowed despite that)
RULES: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("mscrobot.lab", ("mscrobot.engine", "mscrobot.app", "mscrobot.cli", "mscrobot.campaign"),
     ()),
    ("mscrobot.engine", ("mscrobot.lab", "mscrobot.twin", "mscrobot.app", "mscrobot.cli",
                         "mscrobot.campaign", "mscrobot.report"), ("mscrobot.lab.protocols",)),
    ("mscrobot.decide", IO_MODULES, ()),
    ("mscrobot.spectra", IO_MODULES, ()),
    ("mscrobot.twin", IO_MODULES, ()),
    ("mscrobot.procedure", (*IO_MODULES, "mscrobot.lab", "mscrobot.engine"), ()),
    ("mscrobot.chemistry", IO_MODULES, ()),
    ("mscrobot.recipe", ("mscrobot.lab", "mscrobot.engine", "mscrobot.app", "mscrobot.cli",
                         "mscrobot.campaign", "mscrobot.procedure", "mscrobot.twin"), ()),
    ("mscrobot.storage", ("mscrobot.engine", "mscrobot.lab", "mscrobot.app"), ()),
    ("mscrobot", ("prefect", "flows"), ()),
    # the browser view reads journals and acts through the composition layer, like the CLI
    ("mscrobot.ui", ("mscrobot.lab", "mscrobot.twin", "mscrobot.campaign",
                     "mscrobot.engine.runner", "mscrobot.engine.handlers"), ()),
]
#: The CLI only presents; no module outside it may import it.
CLI = "mscrobot.cli"
#: The web app, and the web libraries it alone uses: only it and the CLI may import them.
WEB = ("mscrobot.ui", "fastapi", "starlette", "uvicorn")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, wherever the import stands, with its line."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
    return out


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(files: list[Path]) -> list[str]:
    """One line per forbidden import (``from a import b`` is one import, not two)."""
    found: dict[tuple[Path, int, str], str] = {}
    for path in files:
        name = module_name(path)
        for line, target in imports(path):
            if _under(target, CLI) and not _under(name, CLI):
                found.setdefault((path, line, CLI), f"{path}:{line}: {name} imports {target} "
                                 "(only the CLI may)")
            web = next((w for w in WEB if _under(target, w)), None)
            if web is not None and not (_under(name, "mscrobot.ui") or _under(name, CLI)):
                found.setdefault((path, line, web), f"{path}:{line}: {name} imports {target} "
                                 "(only mscrobot.ui and the CLI may)")
            for scope, banned, allowed in RULES:
                if not _under(name, scope) or any(_under(target, a) for a in allowed):
                    continue
                hit = next((b for b in banned if _under(target, b)), None)
                if hit is not None and not _under(name, CLI):
                    found.setdefault((path, line, scope), f"{path}:{line}: {name} imports "
                                     f"{target} ({scope} must not import {hit})")
    return sorted(found.values())


def test_the_package_keeps_its_layers() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50
    assert violations(files) == []


@pytest.mark.parametrize(("where", "source"), [
    ("lab/simulated/bad.py", "from mscrobot.engine.journal import Journal\n"),
    ("engine/bad.py", "def f():\n    from mscrobot.lab.simulated import devices\n"),
    ("decide/bad.py", "import sqlite3\n"),
    ("twin/bad.py", "from pathlib import Path\n"),
    ("recipe/bad.py", "from ..lab import config\n"),
    ("report/bad.py", "from mscrobot.cli.common import fail\n"),
    ("campaign/bad.py", "import prefect\n"),
    ("app/bad.py", "import fastapi\n"),
    ("report/bad.py", "from mscrobot.ui.feed import run_row\n"),
    ("ui/bad.py", "from mscrobot.lab.simulated import devices\n"),
])
def test_the_checker_sees_a_forbidden_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             where: str, source: str) -> None:
    """The rules can fail: a module placed in the package with a forbidden import is named."""
    fake = tmp_path / "mscrobot"
    path = fake / where
    path.parent.mkdir(parents=True)
    path.write_text(source, encoding="utf-8")
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", fake)
    assert len(violations([path])) == 1


def test_the_engine_may_know_the_lab_protocols() -> None:
    engine = PACKAGE / "engine" / "runner.py"
    assert any(_under(t, "mscrobot.lab.protocols") for _, t in imports(engine))
    assert violations([engine]) == []
