"""Alembic migrations and the SQLAlchemy models describe the same schema, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from db.engine import create_engine
from db.migrate import upgrade_to_head
from db.models import Base
from tests import databases


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


@pytest.fixture
async def empty_url(tmp_path: Path, backend: str) -> AsyncIterator[str]:
    """A database with no tables at all (not the migrated template the other tests use)."""
    if backend == databases.SQLITE:
        yield f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        return
    url = await databases.new_database(empty=True)
    try:
        yield url
    finally:
        await databases.drop_database(url)


async def test_migrations_match_models(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await upgrade_to_head(engine)
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            tables = await conn.run_sync(_tables)
    finally:
        await engine.dispose()
    assert {"users", "streams", "message_history", "message_recipients", "audit_log"} <= tables
    assert "alembic_version" in tables


@pytest.mark.sqlite_only
async def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    try:
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await engine.dispose()
