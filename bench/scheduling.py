"""Scheduling lateness: from `scheduled_at` to the first send arriving at the emulator.

Run: `.venv/bin/python -m bench.scheduling [--quick]`; prints figures and writes RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.delivery import ADMIN
from bench.results import table, write_section
from bench.support import TOKEN, arrivals, emulator_process, populated_db
from bot.app import build_application
from bot.config import parse_config
from bot.delivery.content import Content
from db.models import MessageKind
from db.repo.audience import Selection
from tests.harness import lifecycle


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


async def lateness(count: int, spacing: float) -> dict[str, float | int]:
    async with emulator_process(keep=True) as base_url:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "schedule.db"
            engine, _ = await populated_db(db, count)
            await engine.dispose()
            config = parse_config(
                {
                    "telegram": {"token": TOKEN, "base_url": base_url},
                    "bot": {"admins": [ADMIN], "language": "en", "timezone": "UTC"},
                    "database": {"url": f"sqlite+aiosqlite:///{db}"},
                },
                env={},
            )
            async with lifecycle(build_application(config)) as app:
                services = app.bot_data.services
                start = datetime.now(UTC) + timedelta(seconds=3)
                planned: dict[int, datetime] = {}
                for i in range(count):
                    at = start + timedelta(seconds=spacing * i)
                    person = i + 1
                    message = await services.broadcaster.schedule(
                        ADMIN,
                        Content(MessageKind.TEXT, f"Scheduled {i}"),
                        Selection(user_ids=frozenset({person})),
                        at,
                    )
                    services.dispatcher.plan(message.id, at)
                    planned[person] = at
                offset = time.time() - time.monotonic()
                last = max(planned.values())
                await asyncio.sleep((last - datetime.now(UTC)).total_seconds() + 2)
                for message_id in list(services.broadcaster.runs):
                    await services.broadcaster.wait(message_id)
            first_send: dict[int, float] = {}
            for arrived, method, chat in await arrivals(base_url):
                if method == "sendMessage" and chat in planned and chat not in first_send:
                    first_send[chat] = arrived + offset
    late = [first_send[p] - planned[p].timestamp() for p in planned]
    return {
        "messages": count,
        "spacing_s": spacing,
        "p50_s": round(_percentile(late, 0.5), 4),
        "p99_s": round(_percentile(late, 0.99), 4),
        "max_s": round(max(late), 4),
        "min_s": round(min(late), 4),
    }


async def main(quick: bool) -> None:
    result = await lateness(10 if quick else 50, 1.0)
    print("lateness", result, flush=True)
    rows = [
        (
            f"lateness, {result['messages']} messages scheduled {result['spacing_s']:g} s apart, "
            "from scheduled_at to the first send at the emulator",
            f"p50 **{result['p50_s']} s**, p99 **{result['p99_s']} s** "
            f"(min {result['min_s']} s, max {result['max_s']} s)",
            "p50 <= 0.2 s, p99 <= 1 s (the old dashboard: up to 60 s)",
        )
    ]
    title = "Scheduling" + (" (quick run, reduced sizes)" if quick else "")
    write_section("Scheduling", title, table(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 messages instead of 50")
    asyncio.run(main(parser.parse_args().quick))
