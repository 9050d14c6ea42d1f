"""CSV import of one million people while the bot works: apply time, peak memory, the slowest
/start answer during the apply, and the pace of a delivery running at the same time.

Run: `.venv/bin/python -m bench.people`; the measure runs in a child process so its peak RSS is
its own. The emulator runs in another process, over loopback HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from telegram import Update
from telegram.ext import TypeHandler

from bench.results import table, write_section
from bench.support import ROOT, TOKEN, arrivals, emulator_process, populated_db
from bot.app import build_application
from bot.callbacks import ImportAction, ImportCb
from bot.config import parse_config
from bot.delivery.content import Content
from bot.people.importer import CHUNK
from db.models import ImportRun, MessageKind
from db.repo.audience import Selection
from tests.harness import lifecycle

ROWS = 1_000_000
AUDIENCE = 8000
RATE = 25.0
ADMIN = 1
PROBE_EVERY = 0.2
QUIET_WINDOW = 10.0


def csv_bytes(rows: int) -> bytes:
    """About 20 bytes a row: a million rows is the 20 MB Telegram lets a bot download."""
    lines = ["user_id,stream,first_name"]
    lines += [f"{1_000_000 + i},bench,P{i % 1000}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _update(app: Any, n: int, user_id: int, **message: Any) -> Update:
    body = {
        "message_id": n + 1,
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private", "first_name": "P"},
        "from": {"id": user_id, "is_bot": False, "first_name": "P"},
        **message,
    }
    return Update.de_json({"update_id": n + 1, "message": body}, app.bot)


class Probe:
    """A student's /start through the update queue, timed until the bot has handled it."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._waiting: dict[int, asyncio.Future[float]] = {}
        app.add_handler(TypeHandler(Update, self._handled), group=99)

    async def _handled(self, update: Update, context: Any) -> None:
        waiting = self._waiting.pop(update.update_id, None)
        if waiting is not None:
            waiting.set_result(time.perf_counter())

    async def ask(self, n: int) -> float:
        update = _update(self._app, 100_000 + n, 500_000 + n, text="/start", entities=START)
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[update.update_id] = done
        begin = time.perf_counter()
        await self._app.update_queue.put(update)
        return await done - begin


START = [{"type": "bot_command", "offset": 0, "length": 6}]


async def child(rows: int) -> dict[str, Any]:
    data = csv_bytes(rows)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "people.db"
        engine, _ = await populated_db(db, AUDIENCE)
        await engine.dispose()
        async with emulator_process(keep=True) as base_url:
            config = parse_config(
                {
                    "telegram": {
                        "token": TOKEN,
                        "base_url": base_url,
                        "base_file_url": base_url.replace("/bot", "/file/bot"),
                    },
                    "bot": {"admins": [ADMIN], "language": "en", "timezone": "UTC"},
                    "database": {"url": f"sqlite+aiosqlite:///{db}"},
                    "delivery": {"rate_per_second": RATE},
                },
                env={},
            )
            async with lifecycle(build_application(config)) as app:
                return await _measure(app, base_url, data)


async def _probing(app: Any, probe: Probe, name: str, first: int) -> tuple[list[float], float]:
    """Probe every PROBE_EVERY s until the background task `name` is over; the answer times and
    how long the task took."""
    services = app.bot_data.services
    for _ in range(500):
        running = [t for t in services.background if t.get_name() == name]
        if running:
            break
        await asyncio.sleep(0.01)
    (task,) = running
    started = time.monotonic()
    answers: list[float] = []
    n = first
    while not task.done():
        answers.append(await probe.ask(n))
        n += 1
        await asyncio.sleep(PROBE_EVERY)
    return answers, time.monotonic() - started


async def _measure(app: Any, base_url: str, data: bytes) -> dict[str, Any]:
    services = app.bot_data.services
    probe = Probe(app)
    root = base_url.rsplit("/bot", 1)[0]
    async with httpx.AsyncClient(timeout=60) as client:
        file_id = (await client.post(f"{root}/_files", content=data)).json()
    document = {"file_id": file_id, "file_unique_id": "u", "file_name": "people.csv"}
    await app.update_queue.put(_update(app, 1, ADMIN, document=document))
    checking, dry_run = await _probing(app, probe, "import check", 0)
    pending = app.user_data[ADMIN].pending_import
    assert pending is not None, "the dry run offered nothing to apply"

    broadcaster = services.broadcaster
    message = await broadcaster.submit(
        ADMIN, Content(MessageKind.TEXT, "During the import"), Selection(everyone=True)
    )
    broadcaster.start(message, ADMIN, None)
    await asyncio.sleep(2.0)
    quiet_from = time.monotonic()
    await asyncio.sleep(QUIET_WINDOW)
    quiet_to = time.monotonic()
    before = [
        at
        for at, method, chat in await arrivals(base_url)
        if method == "sendMessage" and quiet_from <= at <= quiet_to
    ]
    quiet_rate = len(before) / (quiet_to - quiet_from)
    seen = len(await arrivals(base_url))
    apply_started = time.monotonic()
    tap = {
        "update_id": 2,
        "callback_query": {
            "id": "apply",
            "from": {"id": ADMIN, "is_bot": False, "first_name": "P"},
            "chat_instance": "1",
            "data": ImportCb(ImportAction.APPLY, pending.token).pack(),
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": ADMIN, "type": "private"},
            },
        },
    }
    await app.update_queue.put(Update.de_json(tap, app.bot))
    answers, apply_seconds = await _probing(app, probe, "import apply", len(checking))
    apply_ended = time.monotonic()
    sends = [
        at
        for at, method, chat in await arrivals(base_url, seen)
        if method == "sendMessage"
        and apply_started <= at <= apply_ended
        and chat is not None
        and chat <= AUDIENCE
    ]
    broadcaster.stop(message.id)
    await broadcaster.wait(message.id)
    async with services.sessions() as session:
        new = await session.scalar(select(ImportRun.new).where(ImportRun.status == "done"))
    whole = range(int(apply_started) + 1, int(apply_ended))
    per_second = [sum(1 for at in sends if int(at) == s) for s in whole]
    return {
        "rows": len(pending.parsed.rows),
        "bytes": len(data),
        "dry_run_s": round(dry_run, 2),
        "dry_run_start_max_ms": round(max(checking) * 1000, 1),
        "apply_s": round(apply_seconds, 2),
        "new": new,
        "start_answers": len(answers),
        "start_median_ms": round(statistics.median(answers) * 1000, 1),
        "start_max_ms": round(max(answers) * 1000, 1),
        "quiet_rate": round(quiet_rate, 2),
        "delivery_rate": round(len(sends) / apply_seconds, 2),
        "rate_ratio": round(len(sends) / apply_seconds / quiet_rate, 3),
        "slowest_second": min(per_second) if per_second else 0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


async def main(rows: int) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.people",
        "--child",
        str(rows),
        cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    r = json.loads(out.decode().strip().splitlines()[-1])
    print("import", r, flush=True)
    size = f"{r['rows']:,} new people ({r['bytes'] / 1e6:.1f} MB CSV)"
    rows_out = [
        (
            f"CSV import of {size}: parse and dry run",
            f"**{r['dry_run_s']} s**; slowest /start meanwhile **{r['dry_run_start_max_ms']} ms**",
            "slowest < 1000 ms",
        ),
        (
            f"apply of {size}, in journalled chunks of {CHUNK}",
            f"**{r['apply_s']} s**; peak RSS of the whole bot **{r['peak_rss_mb']} MB**",
            "all or nothing; < 1 GB",
        ),
        (
            f"/start answered during the apply ({r['start_answers']} probes, one per 0.2 s)",
            f"median **{r['start_median_ms']} ms**, slowest **{r['start_max_ms']} ms**",
            "slowest < 1000 ms",
        ),
        (
            f"delivery at {RATE:.0f}/s running during the apply",
            f"**{r['delivery_rate']}/s** over the apply vs {r['quiet_rate']}/s just before it: "
            f"ratio **{r['rate_ratio']}**; slowest whole second **{r['slowest_second']}**",
            ">= 0.95 of the rate without the import",
        ),
    ]
    write_section("People import", "People import", table(rows_out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child))))
    else:
        asyncio.run(main(args.rows))
