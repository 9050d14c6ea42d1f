"""The ledger under stress: a database locked past its busy timeout, a connection killed, a
process killed while a ledger write waits. Nobody twice, and reports that match what arrived."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

from bot.delivery.engine import CRASH_NOTE
from db.models import DeliveryStatus, MessageHistory, MessageRecipient
from tests import databases
from tests.emulator import Emulator
from tests.emulator.server import serve
from tests.harness import (
    ADMIN_ID,
    FAST_POLICY,
    Harness,
    bot_process,
    make_config,
    running,
    send_through_process,
    start_through_process,
    until,
    write_config,
)

PEOPLE = list(range(3001, 3041))
TEXT = "Crash test"


def _got(emulator: Emulator, uid: int) -> int:
    return sum(1 for m in emulator.bot_messages(uid) if m.get("text") == TEXT)


@asynccontextmanager
async def holding_the_ledger(db_url: str) -> AsyncIterator[None]:
    """Another connection takes the lock the ledger needs: SQLite's write lock, or on
    PostgreSQL the rows of message_history, until the block ends."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        conn = sqlite3.connect(
            url.database, isolation_level=None, check_same_thread=False, timeout=30
        )
        # In a thread: waiting for the lock must not stop the bot's own loop, which holds it.
        await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")
        try:
            yield
        finally:
            await asyncio.to_thread(conn.execute, "COMMIT")
            conn.close()
        return
    pg = await asyncpg.connect(databases.asyncpg_dsn(db_url))
    transaction = pg.transaction()
    await transaction.start()
    await pg.execute("SELECT id FROM message_history FOR UPDATE")
    try:
        yield
    finally:
        await transaction.commit()
        await pg.close()


async def _send_to_all(herald: Harness) -> None:
    await herald.enroll(PEOPLE, "3rd_stream")
    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, TEXT)
    await herald.press("Skip")
    await herald.press("3-й поток")
    await herald.press("Done")
    await herald.press("Send now")
    await herald.press("Yes, send")


async def _check_finished(herald: Harness) -> MessageHistory:
    async with herald.sessions() as session:
        message = (await session.scalars(select(MessageHistory))).one()
        rows = (await session.scalars(select(MessageRecipient))).all()
    status = {r.user_id: r.status for r in rows}
    for uid in PEOPLE:
        got = _got(herald.emulator, uid)
        if status[uid] is DeliveryStatus.UNCONFIRMED:
            assert got <= 1, uid
        else:
            assert (status[uid], got) == (DeliveryStatus.SENT, 1), uid
    return message


async def test_ledger_locked_past_the_busy_timeout_loses_nothing(
    db_url: str, emulator: Emulator
) -> None:
    """The ledger cannot write for longer than SQLite waits for a lock (shortened here to 1 s
    from 10): outcomes stay in memory and are written when it can, sending pauses meanwhile
    (nobody new is claimed), nobody is sent twice."""
    busy_timeout = 1.0
    hold = busy_timeout + 1.5
    config = make_config(db_url, delivery={"rate_per_second": 10})
    async with running(config, emulator, busy_timeout=busy_timeout) as herald:
        await _send_to_all(herald)
        await until(lambda: sum(_got(emulator, uid) for uid in PEOPLE) >= 10)
        async with holding_the_ledger(db_url):
            sent_when_locked = sum(_got(emulator, uid) for uid in PEOPLE)
            await asyncio.sleep(hold)
            sent_while_locked = sum(_got(emulator, uid) for uid in PEOPLE) - sent_when_locked
        await herald.until_sent()
        message = await _check_finished(herald)
        report = herald.last(ADMIN_ID)["text"]
    assert sent_while_locked <= FAST_POLICY.concurrency, "sending went on with nothing recorded"
    assert (message.status.value, message.delivered, message.unconfirmed) == ("done", 40, 0)
    assert sum(_got(emulator, uid) for uid in PEOPLE) == 40
    assert "Delivered: 40 of 40" in report


@pytest.mark.postgresql_only
async def test_connections_killed_mid_send_lose_nothing(db_url: str, emulator: Emulator) -> None:
    config = make_config(db_url, delivery={"rate_per_second": 10})
    name = make_url(db_url).database
    async with running(config, emulator) as herald:
        await _send_to_all(herald)
        await until(lambda: sum(_got(emulator, uid) for uid in PEOPLE) >= 10)
        admin = await asyncpg.connect(databases.SERVER)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        finally:
            await admin.close()
        assert killed >= 1
        await herald.until_sent()
        message = await _check_finished(herald)
    assert (message.status.value, message.delivered, message.unconfirmed) == ("done", 40, 0)
    assert sum(_got(emulator, uid) for uid in PEOPLE) == 40


async def test_killed_while_a_ledger_write_waits(tmp_path: Path, db_url: str) -> None:
    """SIGKILL lands while the ledger's transaction is blocked: what it was writing is lost
    with the process, and the next one counts those people in doubt, within the bound."""
    emulator = Emulator(latency=0.05)
    emulator.add_user(ADMIN_ID, first_name="Admin")
    for uid in PEOPLE:
        emulator.add_user(uid, first_name=f"S{uid}")
    async with serve(emulator) as base_url:
        config = write_config(
            tmp_path / "config.toml", base_url, db_url, "[delivery]\nrate_per_second = 10\n"
        )
        process = await bot_process(config, emulator.token)
        try:
            await start_through_process(emulator, PEOPLE, "/start 3rd_stream")
            welcomed = len(emulator.arrivals)
            await send_through_process(emulator, TEXT, len(PEOPLE))
            await until(lambda: sum(_got(emulator, uid) for uid in PEOPLE) >= 10)
            async with holding_the_ledger(db_url):
                await asyncio.sleep(1.5)
                process.send_signal(signal.SIGKILL)
                await process.communicate()
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGKILL)
                await process.communicate()
    tried = {a.chat_id for a in emulator.arrivals[welcomed:] if a.chat_id in PEOPLE}
    async with running(make_config(db_url), emulator) as herald:
        await herald.until_sent()
        message = await _check_finished(herald)
        async with herald.sessions() as session:
            doubts = (
                await session.execute(
                    select(MessageRecipient.user_id, MessageRecipient.error).where(
                        MessageRecipient.status == DeliveryStatus.UNCONFIRMED
                    )
                )
            ).all()
    assert message.status.value == "done"
    assert message.delivered + message.unconfirmed == 40
    assert {error for _, error in doubts} <= {CRASH_NOTE}
    assert len(doubts) <= 8, f"{len(doubts)} in doubt after a kill at 10/s"
    never_tried = {uid for uid, _ in doubts} - tried
    assert not never_tried, f"never tried, yet in doubt: {sorted(never_tried)}"


async def test_a_process_frozen_inside_a_ledger_write_goes_on_sending(
    db_url: str, emulator: Emulator
) -> None:
    """The whole process freezes (SIGSTOP, a stalled VM) in the middle of a ledger write for
    longer than the lease's safe window: when it wakes, nobody else has the message, so it must
    renew the lease and finish, not wait forever for a renewal with nothing left to record."""
    config = make_config(db_url, delivery={"rate_per_second": 10})
    policy = replace(FAST_POLICY, lease=1.0)
    freeze = asyncio.Event()
    frozen: list[str] = []

    def stall(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        ledger_write = statement.startswith("UPDATE message_history") and "ledger_seq" in statement
        if freeze.is_set() and ledger_write:
            freeze.clear()
            frozen.append(statement)
            time.sleep(1.5)

    async with running(config, emulator, policy=policy) as herald:
        engine = herald.app.bot_data.services.sessions.kw["bind"]
        event.listen(engine.sync_engine, "before_cursor_execute", stall)
        await _send_to_all(herald)
        await until(lambda: sum(_got(emulator, uid) for uid in PEOPLE) >= 10)
        freeze.set()
        await until(lambda: bool(frozen), within=5)
        await herald.until_sent(within=30)
        message = await _check_finished(herald)
        event.remove(engine.sync_engine, "before_cursor_execute", stall)
    assert (message.status.value, message.delivered, message.unconfirmed) == ("done", 40, 0)
    assert sum(_got(emulator, uid) for uid in PEOPLE) == 40


async def test_a_ledger_write_repeated_after_its_commit_counts_once(
    db_url: str, emulator: Emulator
) -> None:
    """The answer to a committed ledger write is lost (a dropped connection) and the write is
    made again: it must be recognised, or the report says more than arrived."""
    lost: list[str] = []
    wrote_outcomes = False

    def outcomes_written(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        nonlocal wrote_outcomes
        wrote_outcomes = wrote_outcomes or "UPDATE message_recipients" in statement

    config = make_config(db_url, delivery={"rate_per_second": 20})
    async with running(config, emulator) as herald:
        engine = herald.sessions.kw["bind"].sync_engine
        dialect = engine.dialect
        commit = dialect.do_commit

        def commit_then_lose_the_answer(dbapi_connection: object) -> None:
            nonlocal wrote_outcomes
            commit(dbapi_connection)
            if wrote_outcomes and len(lost) < 3:
                lost.append("answer")
                wrote_outcomes = False
                raise dialect.loaded_dbapi.OperationalError("connection lost after COMMIT")
            wrote_outcomes = False

        event.listen(engine, "after_cursor_execute", outcomes_written)
        dialect.do_commit = commit_then_lose_the_answer
        try:
            await _send_to_all(herald)
            await herald.until_sent()
        finally:
            dialect.do_commit = commit
            event.remove(engine, "after_cursor_execute", outcomes_written)
        message = await _check_finished(herald)
        report = herald.last(ADMIN_ID)["text"]
    assert len(lost) == 3, "no committed write lost its answer"
    assert (message.delivered, message.unconfirmed, message.total) == (40, 0, 40)
    assert "Delivered: 40 of 40" in report
