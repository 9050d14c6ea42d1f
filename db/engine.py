"""Engine and session factory: SQLite with WAL, foreign keys and a busy timeout; PostgreSQL."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

BUSY_TIMEOUT = 10.0
"""Seconds an SQLite connection waits for another one's write lock before it fails."""


def _sqlite_pragmas(busy_timeout: float) -> Callable[[Any, Any], None]:
    def connected(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    return connected


PRIVATE = 0o600
_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def keep_private(path: Path) -> None:
    """Create the database file for its owner only, and take group and other bits off.

    SQLite gives its -wal and -shm files the database file's mode, so they follow.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE))
    for suffix in _SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            mode = stat.S_IMODE(side.stat().st_mode)
            if mode & ~PRIVATE:
                side.chmod(mode & PRIVATE)


def create_engine(url: str, busy_timeout: float = BUSY_TIMEOUT) -> AsyncEngine:
    """An async engine; SQLite connections get the pragmas Herald relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        keep_private(Path(parsed.database))
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(busy_timeout))
        return engine
    # A pooled connection may have died with a failover or pg_terminate_backend: check it first.
    return create_async_engine(url, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions keep loaded attributes after commit, since async code cannot lazy-load."""
    return async_sessionmaker(engine, expire_on_commit=False)


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine a session factory made by `session_factory` is bound to."""
    bind = sessions.kw["bind"]
    assert isinstance(bind, AsyncEngine), bind
    return bind
