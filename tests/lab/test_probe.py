"""``mscrobot devices probe`` in text mode prints every state shape the probes return."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from mscrobot.cli import app

#: What probe_lab returned for the emulated lab with its three emulators up (``--json``).
EMULATED = [
    {"role": "liquid_handler", "backend": "opentrons", "ok": True, "url": "http://127.0.0.1:31950",
     "identity": "mscrobot-emulated-ot-2 (OT-2 Standard, robot software 8.8.2)",
     "state": "reachable", "error": None},
    {"role": "stirrer", "backend": "ika", "url": "socket://127.0.0.1:4001", "ok": True,
     "identity": "RCT basic", "state": {"actual_rpm": 0.0, "set_rpm": 0.0}, "error": None},
    {"role": "spectrometer", "backend": "ocean", "url": "127.0.0.1:4002", "ok": True,
     "identity": "HDX HDX-EMU-0001",
     "state": {"pixels": 2068, "range_nm": [199.6, 800.2],
               "integration_limits_ms": [6.0, 10000.0]}, "error": None},
]


def test_text_probe_of_the_emulated_lab_prints_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    def probe_lab(config: Any) -> list[dict[str, Any]]:
        return EMULATED

    monkeypatch.setattr("mscrobot.app.probe.probe_lab", probe_lab)
    result = CliRunner().invoke(app, ["devices", "probe"])
    assert result.exit_code == 0, (result.output, result.exception)
    lines = result.stdout.splitlines()
    assert lines[1].endswith("RCT basic — actual rpm 0, set rpm 0")
    assert lines[2].endswith("HDX HDX-EMU-0001 — pixels 2068, range nm 199.6–800.2, "
                             "integration limits ms 6–10000")
