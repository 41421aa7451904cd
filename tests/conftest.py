"""Shared test settings: hypothesis runs 400 cases per property in CI, 100 on a laptop;
the default run (``-m 'not slow'``) does not collect tests/flows."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Small dense fits (band fitting) are far slower with a multi-threaded OpenBLAS on 2 cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Lab locks (and any per-lab state) go to a folder of this test process, never the user's: the
# default run is spread over processes (pytest-xdist), and two of them locking the emulated lab's
# addresses in one shared folder would refuse each other (each worker imports this file).
os.environ["MSCROBOT_STATE_DIR"] = tempfile.mkdtemp(prefix="mscrobot-test-state-")

from hypothesis import HealthCheck, Phase, settings

settings.register_profile("dev", max_examples=100, deadline=None)
# 400 in CI: at 1000 the property tests took ~4 of CI's 21.6 minutes (limit: 20) once the
# slow end-to-end tests ran after the default ones.
settings.register_profile(
    "ci", max_examples=400, deadline=None, print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE",
                                                                         "dev"))


FLOWS = Path(__file__).parent / "flows"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/flows is left out of the default run's collection: every test there is slow (a
    Prefect server), and importing them imports Prefect, ~3 s for nothing. Any other selection
    collects them, and tests/flows/conftest.py refuses a test there that is not marked slow."""
    if collection_path == FLOWS and config.getoption("markexpr") == "not slow":
        return True
    return None


#: Tests that time real devices against the wall clock (emulators at a speedup, where a ramp's
#: allowance is a fraction of a second; a browser's latency; the watchdog's refresh): CI runs
#: them one at a time (``-m 'slow and serial' -n 0``), the other slow ones two at a time.
SERIAL = (Path(__file__).parent / "lab", Path(__file__).parent / "ui",
          Path(__file__).parent / "engine" / "test_watchdog_loop.py",
          Path(__file__).parent / "engine" / "test_wall_waits.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path == p or p in item.path.parents for p in SERIAL):
            item.add_marker(pytest.mark.serial)


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test keeps its per-user state (device locks, robots' tip inventories) in a folder
    of its own, not only its process's: a run over HTTP counts its tips into its robot's
    inventory, and a module's shared emulator would otherwise carry one test's tips into the
    next."""
    monkeypatch.setenv("MSCROBOT_STATE_DIR", str(tmp_path_factory.mktemp("state")))
