"""An in-process HDX emulator on a real TCP port, and a driver pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mscrobot.lab.spectrometer.obp_emulator import ObpEmulator
from mscrobot.lab.spectrometer.source import TwinSpectrumSource, blank_cell, recipe_or_default
from mscrobot.recipe.models import Recipe


@pytest.fixture(scope="session")
def recipe() -> Recipe:
    return recipe_or_default(str(Path(__file__).parents[3] / "recipes/cds34-zncl2.yaml"))


@pytest.fixture
def source(recipe: Recipe) -> TwinSpectrumSource:
    return TwinSpectrumSource.for_recipe(recipe, blank_cell(), seed=1)


@pytest.fixture
def emulator(source: TwinSpectrumSource) -> Iterator[ObpEmulator]:
    # speed 4: a 10 ms integration takes 2.5 ms of wall time, the tests stay quick
    with ObpEmulator(source, speed=4.0) as emu:
        yield emu


@pytest.fixture
def address(emulator: ObpEmulator) -> str:
    host, port = emulator.address
    return f"{host}:{port}"
