"""Test databases: a fresh SQLite file, or a fresh PostgreSQL database per test.

The suite runs once per backend (`HERALD_TEST_BACKEND=sqlite|postgresql`). On PostgreSQL each
test gets its own database, cloned from a template migrated once per test process, and dropped
afterwards. `python -m tests.databases` exits 0 when the PostgreSQL server is reachable.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import sys
from pathlib import Path

import asyncpg

from db.engine import create_engine
from db.migrate import upgrade_to_head

BACKEND = os.environ.get("HERALD_TEST_BACKEND", "sqlite")
SERVER = os.environ.get("HERALD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
"""A PostgreSQL database the tests may use to create and drop their own (trust auth)."""

_PREFIX = "herald_t"
_counter = itertools.count(1)
_template: str | None = None


def is_postgres() -> bool:
    return BACKEND == "postgresql"


def asyncpg_dsn(url: str) -> str:
    """The plain PostgreSQL DSN of a SQLAlchemy URL, for asyncpg."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def sqlalchemy_url(database: str) -> str:
    base = SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


async def _admin(*statements: str) -> None:
    conn = await asyncpg.connect(SERVER, timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _leftovers() -> list[str]:
    """Databases of earlier test processes that died before dropping them."""
    conn = await asyncpg.connect(SERVER, timeout=10)
    try:
        names = [r[0] for r in await conn.fetch("SELECT datname FROM pg_database")]
    finally:
        await conn.close()
    return [name for name in names if _of_a_dead_process(name)]


def _of_a_dead_process(name: str) -> bool:
    match = re.fullmatch(rf"{_PREFIX}_(\d+)_\w+", name)
    return match is not None and not Path(f"/proc/{match.group(1)}").exists()


async def _make_template() -> str:
    name = f"{_PREFIX}_{os.getpid()}_template"
    stale = [f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)' for db in await _leftovers()]
    await _admin(
        *stale, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )
    engine = create_engine(sqlalchemy_url(name))
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    return name


async def new_database(empty: bool = False) -> str:
    """A PostgreSQL database of its own, migrated unless `empty`; returns its SQLAlchemy URL."""
    global _template
    name = f"{_PREFIX}_{os.getpid()}_{next(_counter)}"
    if empty:
        await _admin(f'CREATE DATABASE "{name}"')
        return sqlalchemy_url(name)
    if _template is None:
        _template = await _make_template()
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_template}"')
    return sqlalchemy_url(name)


async def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def drop_template() -> None:
    if _template is not None:
        await _admin(f'DROP DATABASE IF EXISTS "{_template}" WITH (FORCE)')


async def _reachable() -> bool:
    try:
        conn = await asyncpg.connect(SERVER, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(_reachable()) else 1)
