"""Shared fixtures: an emulator, a fresh database (SQLite or PostgreSQL), a running Herald."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import settings

from bot.config import Config
from tests import databases
from tests.emulator import Emulator
from tests.harness import Harness, make_config, running

BACKENDS = pytest.StashKey[list[str]]()

OWN_BEHAVIOUR = {"sqlite_only": databases.SQLITE, "postgresql_only": databases.POSTGRESQL}

# No per-example deadline: a wall-clock limit on a shared 2-core machine proves nothing.
settings.register_profile("herald", deadline=None)
settings.load_profile("herald")


def pytest_configure(config: pytest.Config) -> None:
    """Decide the backends once per process: every worker must collect the same tests."""
    found = databases.backends()
    if os.environ.get("HERALD_REQUIRE_POSTGRES") and databases.POSTGRESQL not in found:
        raise pytest.UsageError(f"PostgreSQL is required but not reachable at {databases.SERVER}")
    config.stash[BACKENDS] = found


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line when PostgreSQL was left out for want of a server."""
    found = terminalreporter.config.stash[BACKENDS]
    if databases.POSTGRESQL not in found and not databases.ONLY:
        terminalreporter.write_line(
            f"PostgreSQL skipped: no server at {databases.SERVER}; start one (or set "
            "HERALD_TEST_POSTGRES) and run make test again; the tests ran on SQLite"
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test that takes a database runs once per backend, named by it."""
    if "backend" in metafunc.fixturenames:
        found: list[str] = metafunc.config.stash[BACKENDS]
        metafunc.parametrize("backend", found, scope="function")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test of one backend's own behaviour runs on that backend only."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        own = [b for marker, b in OWN_BEHAVIOUR.items() if item.get_closest_marker(marker)]
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec else None
        if own and (backend or databases.SQLITE) != own[0]:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    databases.drop_sqlite_template()
    if databases.POSTGRESQL in session.config.stash[BACKENDS]:
        databases.finish()


@pytest.fixture
def emulator() -> Emulator:
    return Emulator()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """An SQLite file, for tests of SQLite's own behaviour (file modes, locks)."""
    return tmp_path / "herald.db"


@pytest.fixture
def backend() -> str:
    """The database backend a test runs on (parametrized by `pytest_generate_tests`)."""
    return databases.SQLITE


@pytest.fixture
async def db_url(tmp_path: Path, backend: str) -> AsyncIterator[str]:
    """A fresh database of the backend under test, dropped afterwards."""
    if backend == databases.SQLITE:
        yield await databases.new_sqlite_file(tmp_path / "herald.db")
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
