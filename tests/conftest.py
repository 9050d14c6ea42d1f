"""Shared fixtures: an emulator, a fresh database (SQLite or PostgreSQL), a running Herald."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import settings

from bot.config import Config
from tests import databases
from tests.emulator import Emulator
from tests.harness import Harness, make_config, running

ONLY = {"sqlite_only": "sqlite", "postgresql_only": "postgresql"}

# No per-example deadline: a wall-clock limit on a shared 2-core machine proves nothing.
settings.register_profile("herald", deadline=None)
settings.load_profile("herald")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of one backend's own behaviour run only in that backend's half of the suite."""
    for item in items:
        for marker, backend in ONLY.items():
            if item.get_closest_marker(marker) and backend != databases.BACKEND:
                item.add_marker(pytest.mark.skip(reason=f"runs in the {backend} half"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if databases.is_postgres():
        asyncio.run(databases.drop_template())


@pytest.fixture
def emulator() -> Emulator:
    return Emulator()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """An SQLite file, for tests of SQLite's own behaviour (file modes, locks)."""
    return tmp_path / "herald.db"


@pytest.fixture
async def db_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database of the backend under test, dropped afterwards."""
    if not databases.is_postgres():
        yield f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
        return
    url = await databases.new_database()
    try:
        yield url
    finally:
        await databases.drop_database(url)


@pytest.fixture
def config(db_url: str) -> Config:
    return make_config(db_url)


@pytest.fixture
async def herald(config: Config, emulator: Emulator) -> AsyncIterator[Harness]:
    """A running bot; the test fails if any handler raised."""
    async with running(config, emulator) as harness:
        yield harness
