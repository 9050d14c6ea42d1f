"""Where a send's time goes: Herald's engine and a plain PTB loop under pyinstrument, side by side.

Both send to the same emulator (its own process, loopback HTTP), unpaced, concurrency 8. The
samples are split by the code they fall in (the innermost frame's package), and shown as
microseconds per send: what the engine adds beyond the Telegram request is the ledger, the
database driver and its own bookkeeping. The profiler slows everything down a little; compare
rows, not with the throughput benchmark.

Run: `.venv/bin/python -m bench.profile [--people N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from pyinstrument import Profiler
from pyinstrument.frame import Frame

from bench.delivery import CONCURRENCY, _bot, engine_send, plain_send
from bench.results import table, write_section
from bench.support import BACKENDS, database, emulator_process, populated_db

PEOPLE = 5000
PARTS = (
    (
        "the Telegram request (PTB, httpx)",
        ("/telegram/", "/httpx/", "/httpcore/", "/h11/", "/anyio/"),
    ),
    (
        "the database (SQLAlchemy, driver)",
        ("/sqlalchemy/", "/aiosqlite/", "/asyncpg/", "/sqlite3/"),
    ),
    ("Herald's engine, ledger and pacing", ("/bot/delivery/", "/db/repo/", "/db/models")),
    ("the event loop and waiting", ("/asyncio/", "/selectors.py")),
    ("the benchmark's own loop", ("/bench/",)),
)
"""Where each sampled frame's code lives; a frame elsewhere counts to the part that called it."""
OTHER = "other"


def _part(path: str, caller: str) -> str:
    """The part a frame's code belongs to; built-ins and the standard library's helpers
    (contextlib, json, enum...) count to the part that called them."""
    for name, needles in PARTS:
        if any(needle in path for needle in needles):
            return name
    return caller


def _split(frame: Frame, into: dict[str, float], caller: str = OTHER) -> None:
    """Self time of every frame, counted to the part its code belongs to."""
    part = _part(frame.file_path or frame.function or "", caller)
    own = frame.total_self_time
    if own:
        into[part] = into.get(part, 0.0) + own
    for child in frame.children:
        if not child.is_synthetic:
            _split(child, into, part)


async def _profiled(run: Callable[[], Awaitable[float]]) -> tuple[float, dict[str, float]]:
    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    seconds = await run()
    session = profiler.stop()
    parts: dict[str, float] = {}
    root = session.root_frame()
    if root is not None:
        _split(root, parts)
    return seconds, parts


async def measure(backend: str, people: int) -> dict[str, dict[str, float] | float | str]:
    with tempfile.TemporaryDirectory() as tmp:
        async with emulator_process() as base_url, _bot(base_url) as bot:
            await plain_send(bot, 200)  # warm the connections
            async with database(backend, Path(tmp), "profile") as db:
                engine, sessions = await populated_db(db, people)
                ours_s, ours = await _profiled(lambda: engine_send(bot, sessions, None, people))
                await engine.dispose()
            plain_s, plain = await _profiled(lambda: plain_send(bot, people))
    return {"backend": backend, "ours_s": ours_s, "plain_s": plain_s, "ours": ours, "plain": plain}


def _us(seconds: float, people: int) -> str:
    return f"{seconds / people * 1e6:.0f} µs"


async def main(people: int) -> None:
    rows: list[tuple[str, str, str]] = []
    for backend in BACKENDS:
        r = await measure(backend, people)
        print("profile", r, flush=True)
        ours, plain = r["ours"], r["plain"]
        assert isinstance(ours, dict) and isinstance(plain, dict)
        assert isinstance(r["ours_s"], float) and isinstance(r["plain_s"], float)
        rows.append(
            (
                f"**{backend}**: wall time per send, profiled",
                f"ours {_us(r['ours_s'], people)}, plain PTB loop {_us(r['plain_s'], people)}",
                "",
            )
        )
        for name in [*(name for name, _ in PARTS), OTHER]:
            rows.append(
                (
                    f"{backend}: in {name}",
                    f"ours {_us(ours.get(name, 0.0), people)}, "
                    f"plain {_us(plain.get(name, 0.0), people)}",
                    "",
                )
            )
    intro = (
        f"pyinstrument (1 ms samples), {people} recipients unpaced, concurrency {CONCURRENCY}, "
        "emulator in its own process. Self time of each sampled frame, by the package its code "
        "is in, per send. The plain loop parses every answer into a Message (PTB's typed "
        "method); the engine reads the raw answer for its id, so its Telegram part is smaller."
    )
    write_section("Profile", "Profile of a send", intro + "\n\n" + table(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=PEOPLE)
    asyncio.run(main(parser.parse_args().people))
