"""Delivery benchmarks against the emulator over loopback HTTP: throughput, pacing, memory, replies.

Run: `.venv/bin/python -m bench.delivery [--quick]`; figures are printed and written to RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, Update
from telegram.request import HTTPXRequest

from bench.results import table, write_section
from bench.support import (
    BACKENDS,
    ROOT,
    TOKEN,
    arrivals,
    busiest_second,
    database,
    emulator_process,
    populated_db,
)
from bot.app import build_application
from bot.config import parse_config
from bot.delivery.content import Content, make_sender
from bot.delivery.engine import DeliveryEngine
from bot.delivery.pacing import Pacer
from bot.delivery.personal import Recipients
from bot.delivery.policy import Policy
from db.models import MessageHistory, MessageKind, MessageStatus, RecipientType
from db.repo import messages
from db.repo.audience import Selection
from tests.harness import lifecycle

CONCURRENCY = 8
ADMIN = 900_000_000


def _now() -> datetime:
    return datetime.now(UTC)


def _bot(base_url: str) -> Bot:
    request = HTTPXRequest(connection_pool_size=CONCURRENCY + 4)
    return Bot(TOKEN, base_url=base_url, request=request)


PERSONAL = "Hello {first_name}, welcome to {stream}"


async def _stored_message(
    sessions: async_sessionmaker[AsyncSession], text: str = "Benchmark message"
) -> int:
    """The ledger's part before sending: the message row and one row per recipient."""
    async with sessions.begin() as session:
        message = await messages.create(
            session,
            MessageHistory(
                author_id=ADMIN,
                kind=MessageKind.TEXT,
                text=text,
                recipient_type=RecipientType.GROUP,
                status=MessageStatus.SENDING,
            ),
        )
        await messages.add_recipients(session, message.id, Selection(everyone=True))
        return message.id


async def engine_send(
    bot: Bot,
    sessions: async_sessionmaker[AsyncSession],
    rate: float | None,
    people: int,
    personal: bool = False,
) -> float:
    """Herald's engine, ledger included; returns seconds from storing to the last record.
    `personal`: a text with placeholders, filled per recipient from the database."""
    started = time.perf_counter()
    text = PERSONAL if personal else "Benchmark message"
    message_id = await _stored_message(sessions, text)
    values = Recipients(sessions, message_id, "the course").values if personal else None
    sender = make_sender(bot, Content(MessageKind.TEXT, text), values=values)
    engine = DeliveryEngine(sessions, sender, Pacer(rate), Policy(concurrency=CONCURRENCY), _now)
    await engine.run(message_id, asyncio.Event())
    elapsed = time.perf_counter() - started
    assert engine.tally.delivered == engine.tally.total == people, engine.tally
    return elapsed


async def plain_send(bot: Bot, people: int) -> float:
    """A plain python-telegram-bot loop with the same concurrency and no bookkeeping."""
    ids = iter(range(1, people + 1))

    async def worker() -> None:
        for uid in ids:
            await bot.send_message(uid, "Benchmark message")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


async def fresh_send(
    bot: Bot, workdir: Path, backend: str, people: int, personal: bool = False
) -> float:
    """Seconds of an unpaced engine send to `people` on a database of its own."""
    async with database(backend, workdir, "personal" if personal else "throughput") as db:
        engine, sessions = await populated_db(db, people)
        try:
            return await engine_send(bot, sessions, None, people, personal=personal)
        finally:
            await engine.dispose()


async def throughput(workdir: Path, backend: str, people: int, rounds: int) -> dict[str, Any]:
    async with emulator_process() as base_url, _bot(base_url) as bot:
        ours: list[float] = []
        personal: list[float] = []
        plain: list[float] = []
        for _ in range(rounds):
            ours.append(await fresh_send(bot, workdir, backend, people))
            personal.append(await fresh_send(bot, workdir, backend, people, personal=True))
            plain.append(await plain_send(bot, people))
    ours_rate = people / statistics.median(ours)
    personal_rate = people / statistics.median(personal)
    plain_rate = people / statistics.median(plain)
    return {
        "backend": backend,
        "people": people,
        "rounds": rounds,
        "ours_s": [round(x, 3) for x in ours],
        "plain_s": [round(x, 3) for x in plain],
        "ours_per_s": round(ours_rate, 1),
        "plain_per_s": round(plain_rate, 1),
        "ratio": round(ours_rate / plain_rate, 3),
        "personal_s": [round(x, 3) for x in personal],
        "personal_per_s": round(personal_rate, 1),
        "personal_share": round(personal_rate / ours_rate, 3),
    }


async def pacing(workdir: Path, people: int, rate: float) -> dict[str, Any]:
    async with emulator_process() as base_url, _bot(base_url) as bot:
        engine, sessions = await populated_db(workdir / "pacing.db", people)
        offset = len(await arrivals(base_url))
        await engine_send(bot, sessions, rate, people)
        await engine.dispose()
        times = [
            at for at, method, _ in await arrivals(base_url, offset) if method == "sendMessage"
        ]
    achieved = (len(times) - 1) / (max(times) - min(times))
    return {
        "people": people,
        "setting": rate,
        "achieved_per_s": round(achieved, 2),
        "achieved_share": round(achieved / rate, 3),
        "busiest_second": busiest_second(times),
    }


async def memory(backend: str, people: int) -> dict[str, Any]:
    """Peak RSS of a separate process that builds the ledger and sends to `people` (unpaced)."""
    async with emulator_process() as base_url:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.memory",
            base_url,
            str(people),
            backend,
            cwd=str(ROOT),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"memory child failed ({child.returncode})")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def responsiveness(workdir: Path, people: int, samples: int) -> dict[str, Any]:
    """Median time to answer /streams while idle and while a paced send runs."""
    async with emulator_process(latency=0.05, keep=True) as base_url:
        db = workdir / "responsive.db"
        engine, _ = await populated_db(db, people)
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
            idle = [await _reply_time(app, i) for i in range(samples)]
            broadcaster = app.bot_data.services.broadcaster
            message = await broadcaster.submit(
                ADMIN, Content(MessageKind.TEXT, "Paced"), Selection(everyone=True)
            )
            progress = await app.bot.send_message(ADMIN, "progress")
            broadcaster.start(message, ADMIN, progress.message_id)
            await asyncio.sleep(1.0)
            busy = []
            for i in range(samples):
                busy.append(await _reply_time(app, samples + i))
                await asyncio.sleep(0.2)
            still_running = bool(broadcaster.runs)
            broadcaster.stop(message.id)
            await broadcaster.wait(message.id)
    idle_ms = statistics.median(idle) * 1000
    busy_ms = statistics.median(busy) * 1000
    return {
        "people": people,
        "samples": samples,
        "emulator_latency_ms": 50,
        "idle_median_ms": round(idle_ms, 1),
        "busy_median_ms": round(busy_ms, 1),
        "ratio": round(busy_ms / idle_ms, 2),
        "send_running_throughout": still_running,
    }


async def _reply_time(app: Any, n: int) -> float:
    update = Update.de_json(
        {
            "update_id": 10_000 + n,
            "message": {
                "message_id": 10_000 + n,
                "date": int(time.time()),
                "chat": {"id": ADMIN, "type": "private", "first_name": "Admin"},
                "from": {"id": ADMIN, "is_bot": False, "first_name": "Admin"},
                "text": "/streams",
                "entities": [{"type": "bot_command", "offset": 0, "length": 8}],
            },
        },
        app.bot,
    )
    started = time.perf_counter()
    await app.process_update(update)
    return time.perf_counter() - started


async def per_recipient(
    workdir: Path, backend: str, small: int, large: int, rounds: int
) -> dict[str, Any]:
    """Microseconds per recipient, ours and the plain loop side by side, for a small send
    (median of `rounds`) and a large one (once): whether a big send costs more per person."""
    async with emulator_process() as base_url, _bot(base_url) as bot:
        await plain_send(bot, 200)  # warm connections, as the small send would otherwise pay
        found: dict[str, Any] = {"backend": backend}
        for size, label, times in ((small, "small", rounds), (large, "large", 1)):
            ours: list[float] = []
            plain: list[float] = []
            for _ in range(times):
                ours.append(await fresh_send(bot, workdir, backend, size))
                plain.append(await plain_send(bot, size))
            found[label] = {
                "people": size,
                "ours_us": round(statistics.median(ours) / size * 1e6, 1),
                "plain_us": round(statistics.median(plain) / size * 1e6, 1),
            }
        return found


async def main(quick: bool) -> None:
    scale = 10 if quick else 1
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        speeds = [await throughput(workdir, b, 5000 // scale, 5) for b in BACKENDS]
        print("throughput", speeds, flush=True)
        paced = [await pacing(workdir, 3000 // scale, rate) for rate in (25.0, 30.0)]
        for p in paced:
            print("pacing", p, flush=True)
        costs = [await per_recipient(workdir, b, 1000, 100_000 // scale, 5) for b in BACKENDS]
        print("per recipient", costs, flush=True)
        sizes = [(await memory(b, 1000), await memory(b, 100_000 // scale)) for b in BACKENDS]
        print("memory", sizes, flush=True)
        r = await responsiveness(workdir, 3000, 15 if quick else 30)
        print("responsiveness", r, flush=True)
    rows = [
        *[
            (
                f"throughput on {t['backend']}, {t['people']} recipients unpaced, "
                f"concurrency {CONCURRENCY} (median of {t['rounds']})",
                f"ours {t['ours_per_s']}/s vs plain PTB loop {t['plain_per_s']}/s: "
                f"ratio **{t['ratio']}**",
                ">= 0.85" if t["backend"] == "sqlite" else ">= 0.95",
            )
            for t in speeds
        ],
        *[
            (
                f"personalised throughput on {t['backend']} ({{first_name}} and {{stream}} filled "
                f"per recipient), {t['people']} recipients unpaced (median of {t['rounds']})",
                f"{t['personal_per_s']}/s vs {t['ours_per_s']}/s plain: "
                f"**{t['personal_share']}** of plain sending",
                ">= 0.90",
            )
            for t in speeds
        ],
        *[
            (
                f"pacing, {p['people']} recipients at {p['setting']:g}/s",
                f"achieved {p['achieved_per_s']}/s (**{p['achieved_share']}** of setting), "
                f"busiest second **{p['busiest_second']}**",
                f">= 0.95, <= {p['setting']:g}",
            )
            for p in paced
        ],
        *[
            (
                f"cost per recipient on {c['backend']}, unpaced, storing the ledger and sending: "
                f"{c['large']['people']} recipients (once) vs {c['small']['people']} (median of 5)",
                f"ours **{c['large']['ours_us']} µs** vs {c['small']['ours_us']} µs: ratio "
                f"**{round(c['large']['ours_us'] / c['small']['ours_us'], 2)}**; the plain loop "
                f"beside it {c['large']['plain_us']} µs vs {c['small']['plain_us']} µs",
                "<= 1.0 (a large send costs no more per person)",
            )
            for c in costs
        ],
        *[
            (
                f"memory on {large['backend']}, peak RSS at {large['people']} vs "
                f"{small['people']} recipients (whole process; during the send alone)",
                f"**{large['peak_rss_mb']} MB** vs {small['peak_rss_mb']} MB: "
                f"ratio **{round(large['peak_rss_mb'] / small['peak_rss_mb'], 2)}**; during the "
                f"send {large['send_peak_rss_mb']} MB vs {small['send_peak_rss_mb']} MB "
                f"({large['people']} sent in {large['seconds']} s)",
                "<= 150 MB, < 1.3x",
            )
            for small, large in sizes
        ],
        (
            f"responsiveness, /streams during a paced send to {r['people']} "
            f"(median of {r['samples']}, emulator latency {r['emulator_latency_ms']} ms)",
            f"busy **{r['busy_median_ms']} ms** vs idle {r['idle_median_ms']} ms: "
            f"ratio **{r['ratio']}**",
            "<= 2x idle, < 300 ms",
        ),
    ]
    title = "Delivery" + (" (quick run, reduced sizes)" if quick else "")
    write_section("Delivery", title, table(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    asyncio.run(main(parser.parse_args().quick))
