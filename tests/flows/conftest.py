"""One real Prefect server (a subprocess on 127.0.0.1 with a temporary database) for all flow
tests: starting one takes tens of seconds on a small machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The default run does not collect this folder (tests/conftest.py): a test here that is
    not slow would run nowhere."""
    here = Path(__file__).parent
    fast = [i.nodeid for i in items if i.path.is_relative_to(here)
            and i.get_closest_marker("slow") is None]
    if fast:
        raise pytest.UsageError(f"tests in tests/flows must be marked slow: {', '.join(fast)}")
