"""Test databases: a fresh SQLite file, or a fresh PostgreSQL database per test.

Every test that takes a database runs on each backend in `backends()`: SQLite, and PostgreSQL
when its server answers (`HERALD_TEST_BACKEND=sqlite|postgresql` picks one). On PostgreSQL each
test gets its own database, cloned from a template migrated once per test process and made
ahead in the background, and dropped afterwards. `python -m tests.databases` exits 0 when the
PostgreSQL server is reachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import shutil
import sys
import tempfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import asyncpg

from db.engine import create_engine
from db.migrate import upgrade_to_head

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
ONLY = os.environ.get("HERALD_TEST_BACKEND", "")
"""One backend to run on (sqlite or postgresql), or both when empty."""
SERVER = os.environ.get("HERALD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
"""A PostgreSQL database the tests may use to create and drop their own (trust auth)."""

_PREFIX = "herald_t"
_counter = itertools.count(1)
_template: str | None = None


def backends() -> list[str]:
    """The backends this run covers: SQLite, and PostgreSQL when its server answers."""
    if ONLY:
        return [ONLY]
    return [SQLITE, POSTGRESQL] if reachable() else [SQLITE]


def reachable() -> bool:
    return asyncio.run(_reachable())


def asyncpg_dsn(url: str) -> str:
    """The plain PostgreSQL DSN of a SQLAlchemy URL, for asyncpg."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def sqlalchemy_url(database: str) -> str:
    base = SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


async def _admin(*statements: str) -> None:
    """Statements on the server's own database; a test database need not outlive a crash of
    the server, so its creation does not wait for the disk (a quarter faster)."""
    conn = await asyncpg.connect(SERVER, timeout=10)
    try:
        await conn.execute("SET synchronous_commit TO off")
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


_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="herald-test-db")
"""Creates the next test's database while this one runs, and drops finished ones: CREATE
DATABASE takes about half a second on a server that syncs to disk."""
_ready: deque[Future[str]] = deque()
AHEAD = 3
"""Databases kept in the making: most tests take less time than one CREATE DATABASE."""


def _in_background(*statements: str) -> Future[None]:
    return _background.submit(asyncio.run, _admin(*statements))


def _prepare(template: str) -> Future[str]:
    name = f"{_PREFIX}_{os.getpid()}_{next(_counter)}"
    created = _in_background(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    ready: Future[str] = Future()
    created.add_done_callback(
        lambda done: (
            ready.set_exception(error)
            if (error := done.exception()) is not None
            else ready.set_result(name)
        )
    )
    return ready


async def new_database(empty: bool = False) -> str:
    """A PostgreSQL database of its own, migrated unless `empty`; returns its SQLAlchemy URL."""
    global _template
    if empty:
        name = f"{_PREFIX}_{os.getpid()}_{next(_counter)}"
        await _admin(f'CREATE DATABASE "{name}"')
        return sqlalchemy_url(name)
    if _template is None:
        _template = await _make_template()
    while len(_ready) < AHEAD + 1:
        _ready.append(_prepare(_template))
    return sqlalchemy_url(await asyncio.wrap_future(_ready.popleft()))


_sqlite_template: Path | None = None


async def new_sqlite_file(path: Path) -> str:
    """A migrated SQLite file at `path`, copied from one migrated once per test process (a
    copy takes a millisecond, migrating a fresh file a fifth of a second); its URL."""
    global _sqlite_template
    if _sqlite_template is None:
        folder = Path(tempfile.mkdtemp(prefix="herald-template-"))
        template = folder / "template.db"
        engine = create_engine(f"sqlite+aiosqlite:///{template}")
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()
        _sqlite_template = template
    await asyncio.to_thread(shutil.copyfile, _sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def drop_sqlite_template() -> None:
    if _sqlite_template is not None:
        shutil.rmtree(_sqlite_template.parent, ignore_errors=True)


async def drop_database(url: str) -> None:
    """Dropped in the background; the session's end waits for it."""
    name = url.rsplit("/", 1)[1]
    _in_background(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def finish() -> None:
    """Drop the databases made ready for tests that never came, then the template."""
    for ready in _ready:
        with contextlib.suppress(Exception):
            _in_background(f'DROP DATABASE IF EXISTS "{ready.result()}" WITH (FORCE)')
    if _template is not None:
        _in_background(f'DROP DATABASE IF EXISTS "{_template}" WITH (FORCE)')
    _background.shutdown(wait=True)


async def _reachable() -> bool:
    try:
        conn = await asyncpg.connect(SERVER, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


if __name__ == "__main__":
    sys.exit(0 if reachable() else 1)
