"""Shared fixtures: an emulator, a config on a fresh SQLite file, and a running Herald."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config
from tests.emulator import Emulator
from tests.harness import Harness, make_config, running


@pytest.fixture
def emulator() -> Emulator:
    return Emulator()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "herald.db"


@pytest.fixture
def config(db_path: Path) -> Config:
    return make_config(db_path)


@pytest.fixture
async def herald(config: Config, emulator: Emulator) -> AsyncIterator[Harness]:
    """A running bot; the test fails if any handler raised."""
    async with running(config, emulator) as harness:
        yield harness
