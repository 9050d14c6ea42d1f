"""Edit for everyone against the emulator over loopback HTTP: unpaced throughput of the engine's
edit runs beside a plain python-telegram-bot edit loop, and pacing of a 10k edit run.

Run: `.venv/bin/python -m bench.everyone [--quick]`; figures are printed and written to RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from bench.delivery import CONCURRENCY, _bot, _now, engine_send
from bench.results import table, write_section
from bench.support import (
    BACKENDS,
    arrivals,
    busiest_second,
    database,
    emulator_process,
    populated_db,
)
from bot.delivery import everyone
from bot.delivery.actions import Copies, make_action_sender
from bot.delivery.content import Content
from bot.delivery.engine import DeliveryEngine
from bot.delivery.pacing import Pacer
from bot.delivery.personal import Recipients
from bot.delivery.policy import Policy
from db.models import ActionKind, MessageHistory, MessageKind, MessageRecipient, MessageStatus
from db.repo import messages

ADMIN = 900_000_000
EDITED = "Benchmark message, edited for {first_name}"


async def _sent(bot: Bot, sessions: async_sessionmaker[AsyncSession], people: int) -> int:
    """A broadcast delivered to everyone (unpaced) and closed; its id."""
    await engine_send(bot, sessions, None, people)
    async with sessions.begin() as session:
        message_id: int | None = await session.scalar(select(MessageHistory.id))
        assert message_id is not None
        await messages.set_status(session, message_id, MessageStatus.DONE)
    return message_id


async def engine_edit(
    bot: Bot, sessions: async_sessionmaker[AsyncSession], parent_id: int, rate: float | None
) -> tuple[float, int]:
    """Open an edit run of the broadcast and run it through the engine, personalised per
    recipient; returns seconds from opening to the last record, and how many were edited."""
    started = time.perf_counter()
    content = Content(MessageKind.TEXT, EDITED)
    run = await everyone.open_run(sessions, _now, ADMIN, parent_id, ActionKind.EDIT, content)
    assert isinstance(run, MessageHistory), run
    values = Recipients(sessions, run.id, "the course").values
    sender = make_action_sender(bot, ActionKind.EDIT, content, Copies(sessions, run.id).of, values)
    engine = DeliveryEngine(sessions, sender, Pacer(rate), Policy(concurrency=CONCURRENCY), _now)
    await engine.run(run.id, asyncio.Event())
    elapsed = time.perf_counter() - started
    async with sessions.begin() as session:
        await messages.finish(session, run.id, engine.epoch, MessageStatus.DONE, _now())
    return elapsed, engine.tally.delivered


async def plain_edit(
    bot: Bot, sessions: async_sessionmaker[AsyncSession], parent_id: int, n: int
) -> float:
    """A plain python-telegram-bot loop editing the same copies, same concurrency, no ledger."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(MessageRecipient.user_id, MessageRecipient.telegram_message_id).where(
                    MessageRecipient.message_id == parent_id
                )
            )
        ).all()
    copies = iter(rows)

    async def worker() -> None:
        for uid, message_id in copies:
            await bot.edit_message_text(f"Plain edit {n} for {uid}", uid, message_id)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


async def throughput(workdir: Path, backend: str, people: int, rounds: int) -> dict[str, Any]:
    ours: list[float] = []
    plain: list[float] = []
    async with (
        emulator_process(keep=True) as base_url,
        _bot(base_url) as bot,
        database(backend, workdir, "edit") as db,
    ):
        engine, sessions = await populated_db(db, people)
        parent_id = await _sent(bot, sessions, people)
        for n in range(rounds):
            seconds, edited = await engine_edit(bot, sessions, parent_id, None)
            assert edited == people, edited
            ours.append(seconds)
            plain.append(await plain_edit(bot, sessions, parent_id, n))
        await engine.dispose()
    ours_rate = people / statistics.median(ours)
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
    }


async def pacing(workdir: Path, people: int, rate: float) -> dict[str, Any]:
    async with emulator_process(keep=True) as base_url, _bot(base_url) as bot:
        engine, sessions = await populated_db(workdir / "edit-pacing.db", people)
        parent_id = await _sent(bot, sessions, people)
        offset = len(await arrivals(base_url))
        _, edited = await engine_edit(bot, sessions, parent_id, rate)
        await engine.dispose()
        times = [
            at for at, method, _ in await arrivals(base_url, offset) if method == "editMessageText"
        ]
    achieved = (len(times) - 1) / (max(times) - min(times))
    return {
        "people": people,
        "edited": edited,
        "setting": rate,
        "achieved_per_s": round(achieved, 2),
        "achieved_share": round(achieved / rate, 3),
        "busiest_second": busiest_second(times),
    }


async def main(quick: bool) -> None:
    scale = 10 if quick else 1
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        speeds = [await throughput(workdir, b, 5000 // scale, 3) for b in BACKENDS]
        print("throughput", speeds, flush=True)
        paced = await pacing(workdir, 10_000 // scale, 30.0)
        print("pacing", paced, flush=True)
    rows = [
        *[
            (
                f"edit for everyone on {t['backend']}, {t['people']} copies unpaced, personalised, "
                f"concurrency {CONCURRENCY} (median of {t['rounds']})",
                f"ours {t['ours_per_s']}/s vs plain PTB edit loop {t['plain_per_s']}/s: "
                f"ratio **{t['ratio']}**",
                ">= 0.85",
            )
            for t in speeds
        ],
        (
            f"edit for everyone, {paced['people']} copies at {paced['setting']:g}/s "
            f"(SQLite, personalised)",
            f"edited {paced['edited']}; achieved {paced['achieved_per_s']}/s "
            f"(**{paced['achieved_share']}** of setting), busiest second "
            f"**{paced['busiest_second']}**",
            f">= 0.95, <= {paced['setting']:g}",
        ),
    ]
    title = "Edit for everyone" + (" (quick run, reduced sizes)" if quick else "")
    write_section("Edit for everyone", title, table(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    asyncio.run(main(parser.parse_args().quick))
