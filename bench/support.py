"""Shared pieces: an emulator in its own process, a populated database, machine facts."""

from __future__ import annotations

import asyncio
import os
import platform
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import create_engine, session_factory
from db.migrate import upgrade_to_head
from db.models import Stream, User
from tests import databases

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-token_abc"


@asynccontextmanager
async def emulator_process(latency: float = 0.0, keep: bool = False) -> AsyncIterator[str]:
    """Start `tests.emulator.server` in a child process; yields its base_url."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.emulator.server",
        "--latency",
        str(latency),
        *(["--keep"] if keep else []),
        cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    try:
        yield line.decode().strip()
    finally:
        process.terminate()
        await process.wait()


async def arrivals(base_url: str, since: int = 0) -> list[tuple[float, str, int | None]]:
    """What reached the emulator: (monotonic time, method, chat id)."""
    root = base_url.rsplit("/bot", 1)[0]
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.get(f"{root}/_arrivals", params={"since": since})
    return [(row[0], row[1], row[2]) for row in response.json()]


BACKENDS = ("sqlite", "postgresql")


@asynccontextmanager
async def database(backend: str, workdir: Path, name: str) -> AsyncIterator[Path | str]:
    """A place for a benchmark database: an SQLite file, or a new PostgreSQL database (its
    URL) dropped afterwards."""
    if backend == "sqlite":
        yield workdir / f"{name}.db"
        return
    url = await databases.new_database(empty=True)
    try:
        yield url
    finally:
        await databases.drop_database(url)


def url_of(db: Path | str) -> str:
    return db if isinstance(db, str) else f"sqlite+aiosqlite:///{db}"


async def populated_db(
    db: Path | str, people: int
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """A migrated database with `people` students (ids 1..people) in one stream."""
    if isinstance(db, Path):
        await asyncio.to_thread(db.unlink, missing_ok=True)
    engine = create_engine(url_of(db))
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        stream = Stream(code="bench", title="Bench stream", sort_order=1)
        session.add(stream)
        await session.flush()
        for start in range(1, people + 1, 5000):
            batch = [
                {
                    "id": uid,
                    "username": f"user{uid}",
                    "first_name": f"Student {uid}",
                    "search_text": f"student {uid} @user{uid}",
                    "stream_id": stream.id,
                    "joined_at": now,
                    "started_at": now,
                    "last_seen_at": now,
                }
                for uid in range(start, min(start + 5000, people + 1))
            ]
            await session.execute(insert(User), batch)
    return engine, sessions


def busiest_second(times: list[float]) -> int:
    """The most arrivals in any window of one second."""
    ordered = sorted(times)
    best = 0
    j = 0
    for i, t in enumerate(ordered):
        while ordered[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )
