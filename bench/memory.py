"""Child process for the memory benchmark: `python -m bench.memory BASE_URL PEOPLE`.

Builds a database of PEOPLE students, stores a message for all of them and delivers it unpaced,
then prints one JSON line: the process's peak RSS, and the peak during the send alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench.delivery import _bot, engine_send
from bench.support import database, populated_db


def _reset_peak() -> None:
    """Linux lets a process restart its RSS high-water mark, to measure one phase alone."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
        return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def run(base_url: str, people: int, backend: str) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory() as tmp:
        async with database(backend, Path(tmp), "memory") as db:
            engine, sessions = await populated_db(db, people)
            async with _bot(base_url) as bot:
                _reset_peak()
                started = time.perf_counter()
                await engine_send(bot, sessions, None, people)
                seconds = time.perf_counter() - started
                send_peak = _peak_mb()
            await engine.dispose()
    whole = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return {
        "backend": backend,
        "people": people,
        "peak_rss_mb": whole,
        "send_peak_rss_mb": send_peak,
        "seconds": round(seconds, 3),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(sys.argv[1], int(sys.argv[2]), sys.argv[3]))))
