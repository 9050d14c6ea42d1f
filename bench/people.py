"""CSV import of 50,000 people: time from the file's bytes to the committed change, peak memory.

Run: `.venv/bin/python -m bench.people`; the import runs in a child process so its peak RSS is
its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.results import table, write_section
from bench.support import ROOT
from bot.parsing.people_csv import parse_people_csv
from bot.people.importer import apply_import, plan_import
from db.engine import create_engine, session_factory
from db.migrate import upgrade_to_head
from db.models import Stream

ROWS = 50_000


def csv_bytes(rows: int) -> bytes:
    lines = ["user_id,stream,username,first_name,last_name"]
    lines += [
        f"{100_000 + i},{'s1' if i % 3 else 's2'},user_{i:06d},First{i},Last{i}"
        for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


async def child(rows: int) -> dict[str, float]:
    data = csv_bytes(rows)
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'people.db'}")
        await upgrade_to_head(engine)
        sessions = session_factory(engine)
        async with sessions.begin() as session:
            session.add_all([Stream(code="s1", title="One"), Stream(code="s2", title="Two")])
        started = time.perf_counter()
        parsed = parse_people_csv(data)
        async with sessions.begin() as session:
            plan = await plan_import(session, parsed)
            assert plan.ready and plan.new == rows, plan.problems[:3]
            await apply_import(session, plan, datetime.now(UTC))
        seconds = time.perf_counter() - started
        await engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": rows, "seconds": round(seconds, 2), "peak_rss_mb": round(peak, 1)}


async def main() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.people",
        "--child",
        str(ROWS),
        cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    result = json.loads(out.decode().strip().splitlines()[-1])
    print("import", result, flush=True)
    rows = [
        (
            f"CSV import of {result['rows']:,} new people (parse, dry run, apply in one "
            "transaction)",
            f"**{result['seconds']} s**, peak RSS **{result['peak_rss_mb']} MB**",
            "< 10 s, < 200 MB",
        )
    ]
    write_section("People import", "People import", table(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child))))
    else:
        asyncio.run(main())
