"""History, stats and audit handler times on a large generated database.

10,000 messages, 1,000,000 recipient rows, 50,000 users (scaled down with --quick). Each figure is
the median time of the real handler, through the real Application, against the in-process emulator.
Run: `.venv/bin/python -m bench.history [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from telegram import Update

from bench.results import table, write_section
from bench.support import TOKEN
from bot.app import build_application
from bot.callbacks import (
    AuditCb,
    HistoryAction,
    HistoryCb,
    HistoryKind,
    HistoryTarget,
    Period,
    StatsCb,
)
from bot.config import parse_config
from db.engine import create_engine, session_factory
from db.migrate import upgrade_to_head
from db.models import (
    AuditLog,
    DeliveryStatus,
    MessageHistory,
    MessageKind,
    MessageRecipient,
    MessageStatus,
    MessageTarget,
    RecipientType,
    Stream,
    User,
)
from tests.emulator import Emulator, emulator_request
from tests.harness import lifecycle

ADMIN = 900_000_000
STREAMS = 5
SAMPLES = 15


async def generate(path: Path, messages: int, per_message: int, people: int) -> None:
    """A realistic spread: five streams, 90 days of sends, a few percent not reached."""
    rng = random.Random(7)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade_to_head(engine)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        for i in range(1, STREAMS + 1):
            session.add(Stream(id=i, code=f"s{i}", title=f"Stream {i}", sort_order=i))
        await session.flush()
        for start in range(1, people + 1, 10_000):
            await session.execute(
                insert(User),
                [
                    {
                        "id": uid,
                        "username": f"user{uid}",
                        "first_name": f"Student {uid}",
                        "search_text": f"student {uid} @user{uid}",
                        "stream_id": (uid % (STREAMS + 1)) or None,
                        "is_blocked": uid % 50 == 0,
                        "joined_at": now - timedelta(days=rng.randint(0, 120)),
                        "started_at": now,
                        "last_seen_at": now,
                    }
                    for uid in range(start, min(start + 10_000, people + 1))
                ],
            )
    statuses = (
        [DeliveryStatus.SENT] * 95
        + [DeliveryStatus.FAILED] * 3
        + [DeliveryStatus.BLOCKED]
        + [DeliveryStatus.UNCONFIRMED]
    )
    errors = {
        DeliveryStatus.FAILED: "Chat not found",
        DeliveryStatus.BLOCKED: "Forbidden: bot was blocked by the user",
        DeliveryStatus.UNCONFIRMED: "Timed out",
    }
    for first in range(1, messages + 1, 500):
        async with sessions.begin() as session:
            rows, targets, recipients = [], [], []
            for mid in range(first, min(first + 500, messages + 1)):
                started = now - timedelta(days=90 * (messages - mid) / messages)
                stream = mid % STREAMS + 1
                kind = (RecipientType.GROUP, RecipientType.INDIVIDUAL, RecipientType.MIXED)[mid % 3]
                counts = {s: 0 for s in DeliveryStatus}
                base = (mid * 37) % (people - per_message)
                for offset in range(per_message):
                    status = statuses[(mid + offset) % len(statuses)]
                    counts[status] += 1
                    recipients.append(
                        {
                            "message_id": mid,
                            "user_id": base + offset + 1,
                            "username": f"user{base + offset + 1}",
                            "status": status.value,
                            "telegram_message_id": mid * 1000 + offset
                            if status is DeliveryStatus.SENT
                            else None,
                            "error": errors.get(status),
                            "attempts": 1,
                            "sent_at": started if status is DeliveryStatus.SENT else None,
                        }
                    )
                rows.append(
                    {
                        "id": mid,
                        "author_id": ADMIN,
                        "kind": MessageKind.TEXT,
                        "text": f"Announcement number {mid} for the course",
                        "entities": [],
                        "buttons": [],
                        "selection": {
                            "streams": [stream],
                            "no_stream": False,
                            "everyone": False,
                            "users": [],
                        },
                        "recipient_type": kind,
                        "recipient_group": f"s{stream}",
                        "status": MessageStatus.DONE,
                        "created_at": started,
                        "started_at": started,
                        "finished_at": started + timedelta(minutes=2),
                        "total": per_message,
                        "delivered": counts[DeliveryStatus.SENT],
                        "failed": counts[DeliveryStatus.FAILED],
                        "blocked": counts[DeliveryStatus.BLOCKED],
                        "unconfirmed": counts[DeliveryStatus.UNCONFIRMED],
                        "cancelled": 0,
                    }
                )
                targets.append({"message_id": mid, "target": f"stream:{stream}"})
            await session.execute(insert(MessageHistory), rows)
            await session.execute(insert(MessageTarget), targets)
            await session.execute(insert(MessageRecipient), recipients)
    async with sessions.begin() as session:
        await session.execute(
            insert(AuditLog),
            [
                {
                    "created_at": now - timedelta(minutes=i),
                    "actor_id": ADMIN,
                    "action": "send",
                    "target": f"message {i}",
                    "details": {},
                }
                for i in range(messages * 2)
            ],
        )
    await engine.dispose()


async def measure(path: Path, messages: int) -> dict[str, float]:
    emulator = Emulator(open_chats=True)
    config = parse_config(
        {
            "telegram": {"token": TOKEN},
            "bot": {"admins": [ADMIN], "language": "en", "timezone": "Europe/Moscow"},
            "database": {"url": f"sqlite+aiosqlite:///{path}"},
        },
        env={},
    )
    emulator.add_user(ADMIN, first_name="Admin")
    results: dict[str, float] = {}
    async with lifecycle(build_application(config, request=emulator_request(emulator))) as app:

        async def timed(name: str, make: Callable[[], dict[str, Any]]) -> None:
            times = []
            for _ in range(SAMPLES):
                update = Update.de_json(make(), app.bot)
                emulator.updates.clear()
                started = time.perf_counter()
                await app.process_update(update)
                times.append(time.perf_counter() - started)
            results[name] = round(statistics.median(times) * 1000, 1)

        def command(text: str) -> Callable[[], dict[str, Any]]:
            return lambda: emulator.user_message(ADMIN, text)

        listing = emulator.user_message(ADMIN, "/history")
        await app.process_update(Update.de_json(listing, app.bot))
        screen = emulator.last_bot_message(ADMIN)["message_id"]

        def tap(data: str) -> Callable[[], dict[str, Any]]:
            return lambda: emulator.callback(ADMIN, screen, data)

        deep = messages // 6 - 2
        await timed("/history, first page", command("/history"))
        await timed(
            "/history, filtered (mixed, stream 3)",
            tap(HistoryCb(HistoryAction.LIST, HistoryKind.MIXED, HistoryTarget.STREAM, 3).pack()),
        )
        await timed(
            f"/history, deep page ({deep + 1})",
            tap(HistoryCb(HistoryAction.LIST, page=deep).pack()),
        )
        await timed(
            "entry card", tap(HistoryCb(HistoryAction.CARD, message_id=messages // 2).pack())
        )
        await timed("/stats, 7 days", command("/stats"))
        await timed("/stats, 30 days", tap(StatsCb(Period.MONTH).pack()))
        await timed("/stats, all time", tap(StatsCb(Period.ALL).pack()))
        await timed("/audit", command("/audit"))
        await timed("/audit, page 50", tap(AuditCb(0, 49).pack()))
    return results


async def main(quick: bool) -> None:
    messages, per_message, people = (1_000, 100, 5_000) if quick else (10_000, 100, 50_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        started = time.perf_counter()
        await generate(path, messages, per_message, people)
        built = time.perf_counter() - started
        print(f"generated in {built:.1f} s", flush=True)
        results = await measure(path, messages)
    print(results, flush=True)
    size = f"{messages:,} messages, {messages * per_message:,} recipient rows, {people:,} users"
    rows = [(name, f"**{ms} ms**", "<= 50 ms") for name, ms in results.items()]
    title = "History, stats and audit" + (" (quick run, reduced sizes)" if quick else "")
    body = f"Database: {size} (generated in {built:.0f} s). Median of {SAMPLES} runs each.\n\n"
    write_section("History, stats and audit", title, body + table(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    asyncio.run(main(parser.parse_args().quick))
