"""Failover: two bot processes on one database, the active one SIGKILLed mid-send, ten times.

For each kill: seconds until the standby answers a student's /start, how many recipients the
delivery ends with in doubt (unconfirmed) at 25/s, and how many of those the emulator never got
a request for (none should be). Production lease (5 s). Both backends, in one run.

Run: `.venv/bin/python -m bench.failover [--kills N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.results import table, write_section
from bench.support import BACKENDS, database, url_of
from bot.config import DatabaseConfig
from db.engine import create_engine, session_factory
from db.models import DeliveryStatus, MessageHistory, MessageRecipient, MessageStatus
from tests.emulator import Emulator
from tests.emulator.server import serve
from tests.harness import (
    ADMIN_ID,
    bot_process,
    send_through_process,
    start_through_process,
    until,
    write_config,
)

KILLS = 10
PEOPLE = 120
RATE = 25
CONCURRENCY = 8
KILL_AFTER = 30
"""Recipients reached before each kill: well into the send, with more than a second left."""


class Process:
    """A bot process and everything it printed so far."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output = ""
        assert process.stdout is not None
        self._reader = asyncio.create_task(self._read(process.stdout))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.output += line.decode()

    @property
    def active(self) -> bool:
        return "Herald is running" in self.output

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.returncode is None:
            self.process.send_signal(sig)
            await self.process.wait()


async def _started(config: Path, token: str) -> Process:
    return Process(await bot_process(config, token))


async def _sending_done(url: str) -> tuple[bool, set[int]]:
    """Whether nothing is being sent, and who the newest message left in doubt."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            sending = await session.scalar(
                select(func.count()).where(MessageHistory.status == MessageStatus.SENDING)
            )
            newest = await session.scalar(select(func.max(MessageHistory.id)))
            doubt = await session.scalars(
                select(MessageRecipient.user_id).where(
                    MessageRecipient.message_id == newest,
                    MessageRecipient.status == DeliveryStatus.UNCONFIRMED,
                )
            )
            doubted = set(doubt.all())
    finally:
        await engine.dispose()
    return not sending, doubted


async def _round(
    emulator: Emulator, url: str, config: Path, processes: list[Process], n: int
) -> dict[str, float]:
    """One kill: send to everyone, kill the active process mid-send, time the takeover."""
    active = next(p for p in processes if p.active and p.process.returncode is None)
    text = f"Round {n}"
    await send_through_process(emulator, text, PEOPLE)
    sent_from = len(emulator.arrivals)

    def reached() -> int:
        return sum(1 for uid in range(10_000, 10_000 + PEOPLE) if text in emulator.texts_to(uid))

    await until(lambda: reached() >= KILL_AFTER)
    await active.stop(signal.SIGKILL)
    killed = time.monotonic()
    probe = 20_000 + n
    emulator.add_user(probe, first_name="Probe")
    emulator.user_message(probe, "/start")
    await until(lambda: emulator.bot_messages(probe), within=60)
    takeover = time.monotonic() - killed
    doubt: set[int] = set()
    for _ in range(1200):
        done, doubt = await _sending_done(url)
        if done:
            break
        await asyncio.sleep(0.1)
    # The resume never sends to those in doubt: any request for them came from the killed
    # process, some still in the socket when it died.
    tried = {a.chat_id for a in emulator.arrivals[sent_from:] if a.method == "sendMessage"}
    processes.remove(active)
    processes.append(await _started(config, emulator.token))
    await until(lambda: "standing by" in processes[-1].output, within=60)
    return {
        "takeover_s": takeover,
        "in_doubt": float(len(doubt)),
        "never_tried": float(len(doubt - tried)),
    }


async def measure(backend: str, kills: int) -> dict[str, Any]:
    emulator = Emulator(latency=0.02)
    emulator.add_user(ADMIN_ID, first_name="Admin")
    people = range(10_000, 10_000 + PEOPLE)
    for uid in people:
        emulator.add_user(uid, first_name=f"S{uid}")
    with tempfile.TemporaryDirectory() as tmp:
        async with database(backend, Path(tmp), "failover") as db, serve(emulator) as base_url:
            config = write_config(
                Path(tmp) / "config.toml",
                base_url,
                url_of(db),
                f"[delivery]\nrate_per_second = {RATE}\n",
                lease=DatabaseConfig().lease_seconds,
            )
            processes = [await _started(config, emulator.token)]
            try:
                await until(lambda: processes[0].active, within=60)
                processes.append(await _started(config, emulator.token))
                await until(lambda: "standing by" in processes[1].output, within=60)
                await start_through_process(emulator, list(people), "/start 3rd_stream")
                rounds = [
                    await _round(emulator, url_of(db), config, processes, n) for n in range(kills)
                ]
                twice = sum(
                    1
                    for uid in people
                    for n in range(kills)
                    if emulator.texts_to(uid).count(f"Round {n}") > 1
                )
            finally:
                for process in processes:
                    await process.stop()
    takeovers = [r["takeover_s"] for r in rounds]
    doubts = [int(r["in_doubt"]) for r in rounds]
    never_tried = sum(int(r["never_tried"]) for r in rounds)
    return {
        "backend": backend,
        "kills": kills,
        "takeover_p50_s": round(statistics.median(takeovers), 2),
        "takeover_max_s": round(max(takeovers), 2),
        "in_doubt_median": statistics.median(doubts),
        "in_doubt_max": max(doubts),
        "twice": twice,
        "never_tried": never_tried,
    }


async def main(kills: int) -> None:
    results = []
    for backend in BACKENDS:
        result = await measure(backend, kills)
        print("failover", result, flush=True)
        results.append(result)
    rows = []
    for r in results:
        rows += [
            (
                f"failover on {r['backend']}: SIGKILL of the active process to the standby "
                f"answering (over {r['kills']} kills)",
                f"p50 **{r['takeover_p50_s']} s**, max **{r['takeover_max_s']} s**",
                "<= 10 s",
            ),
            (
                f"recipients in doubt after a kill at {RATE}/s on {r['backend']} "
                f"(concurrency {CONCURRENCY}; {PEOPLE} recipients a round)",
                f"median **{r['in_doubt_median']}**, max **{r['in_doubt_max']}**; of them "
                f"never tried: **{r['never_tried']}**; sent twice: **{r['twice']}**",
                f"the requests under way; <= {CONCURRENCY} (the concurrency); 0 never tried",
            ),
        ]
    write_section("Failover", "Failover", table(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=KILLS)
    asyncio.run(main(parser.parse_args().kills))
