"""Child process for the memory benchmark: `python -m bench.memory BASE_URL PEOPLE`.

Builds a database of PEOPLE students, stores a message for all of them and delivers it unpaced,
then prints one JSON line with the process's peak RSS.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench.delivery import _bot, engine_send
from bench.support import populated_db


async def run(base_url: str, people: int) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as tmp:
        engine, sessions = await populated_db(Path(tmp) / "memory.db", people)
        async with _bot(base_url) as bot:
            started = time.perf_counter()
            await engine_send(bot, sessions, None, people)
            seconds = time.perf_counter() - started
        await engine.dispose()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"people": people, "peak_rss_mb": round(peak_kb / 1024, 1), "seconds": round(seconds, 1)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(sys.argv[1], int(sys.argv[2])))))
