"""A real crash: the bot process is killed mid-send, and a new one finishes without duplicates."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.delivery import everyone
from bot.delivery.content import Content
from bot.delivery.engine import CRASH_NOTE
from db.engine import create_engine, session_factory
from db.models import (
    ActionKind,
    AuditLog,
    DeliveryStatus,
    MessageHistory,
    MessageKind,
    MessageRecipient,
)
from db.repo.audience import Selection
from tests.emulator import Emulator
from tests.emulator.server import serve
from tests.harness import (
    ADMIN_ID,
    bot_process,
    button_data,
    make_config,
    running,
    send_through_process,
    start_through_process,
    until,
    write_config,
)

PEOPLE = list(range(3001, 3041))
RATE = 5
CONCURRENCY = 8
TEXT = "Crash test"


def _got(emulator: Emulator, uid: int) -> int:
    return sum(1 for m in emulator.bot_messages(uid) if m.get("text") == TEXT)


async def test_killed_process_resumes_without_duplicates(tmp_path: Path, db_url: str) -> None:
    """SIGKILL at 12 of 40 at 5/s: the next process waits out the lease, marks only what can
    have been in flight as in doubt, sends everyone else once, and says it resumed."""
    emulator = Emulator(latency=0.05)
    emulator.add_user(ADMIN_ID, first_name="Admin")
    for uid in PEOPLE:
        emulator.add_user(uid, first_name=f"S{uid}")
    async with serve(emulator) as base_url:
        config = write_config(
            tmp_path / "config.toml", base_url, db_url, f"[delivery]\nrate_per_second = {RATE}\n"
        )
        process = await bot_process(config, emulator.token)
        try:
            await start_through_process(emulator, PEOPLE, "/start 3rd_stream")
            welcomed = len(emulator.arrivals)
            await send_through_process(emulator, TEXT, len(PEOPLE))
            await until(lambda: sum(_got(emulator, uid) for uid in PEOPLE) >= 12)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.communicate()
    reached_before = sum(_got(emulator, uid) for uid in PEOPLE)
    assert 12 <= reached_before < len(PEOPLE)
    tried = {a.chat_id for a in emulator.arrivals[welcomed:] if a.chat_id in PEOPLE}

    async with running(make_config(db_url), emulator) as herald:
        await herald.until_sent()
        async with herald.sessions() as session:
            message = (await session.scalars(select(MessageHistory))).one()
            rows = {r.user_id: r for r in (await session.scalars(select(MessageRecipient))).all()}
            actions = (await session.scalars(select(AuditLog.action))).all()
    assert message.status.value == "done"
    assert message.delivered + message.unconfirmed == len(PEOPLE)
    for uid in PEOPLE:
        got = _got(emulator, uid)
        assert got <= 1, f"{uid} got the message {got} times"
        if rows[uid].status is DeliveryStatus.SENT:
            assert got == 1
        else:
            assert rows[uid].status is DeliveryStatus.UNCONFIRMED
            assert rows[uid].error == CRASH_NOTE
    in_doubt = message.unconfirmed
    assert in_doubt <= CONCURRENCY, f"{in_doubt} in doubt after a crash at {RATE}/s"
    doubted = {uid for uid, row in rows.items() if row.status is DeliveryStatus.UNCONFIRMED}
    # At most the one send whose request was being written when the kill came.
    assert len(doubted - tried) <= 1, f"never tried, yet in doubt: {sorted(doubted - tried)}"
    never_tried = [uid for uid in PEOPLE if _got(emulator, uid) == 0]
    assert len(never_tried) <= in_doubt, "someone never tried was left unsent"
    report = _report(emulator)
    assert f"Resumed after an interruption; {in_doubt} may have it already" in report
    assert list(actions) == ["send", "resume"]


def _report(emulator: Emulator) -> str:
    reports = [
        m["text"]
        for m in emulator.bot_messages(ADMIN_ID)
        if "✅ Delivery finished" in m.get("text", "")
    ]
    assert len(reports) == 1, reports
    return str(reports[0])


async def test_killed_during_an_edit_for_everyone_resumes_without_repeating(
    tmp_path: Path, db_url: str
) -> None:
    """SIGKILL in the middle of an edit run at 10/s: the next process edits everyone not yet
    edited once, leaves those in doubt to Retry (which, for an edit, repeats harmlessly)."""
    emulator = Emulator()
    async with running(make_config(db_url), emulator) as herald:
        await herald.enroll(PEOPLE, "3rd_stream")
        broadcaster = herald.app.bot_data.services.broadcaster
        selection = Selection(stream_ids=frozenset({herald.stream_id("3rd_stream")}))
        message = await broadcaster.submit(ADMIN_ID, Content(MessageKind.TEXT, TEXT), selection)
        broadcaster.start(message, ADMIN_ID, None)
        await herald.deliveries_done()
    engine = create_engine(db_url)
    try:
        new = Content(MessageKind.TEXT, "Edited")
        clock = lambda: datetime.now(UTC)  # noqa: E731
        run = await everyone.open_run(
            session_factory(engine), clock, ADMIN_ID, message.id, ActionKind.EDIT, new
        )
    finally:
        await engine.dispose()
    assert isinstance(run, MessageHistory)

    def edited() -> int:
        return sum(1 for uid in PEOPLE for m in emulator.bot_messages(uid) if m.get("_edits"))

    emulator.latency = 0.05  # for the edits the kill cuts into
    async with serve(emulator) as base_url:
        config = write_config(
            tmp_path / "config.toml", base_url, db_url, "[delivery]\nrate_per_second = 10\n"
        )
        offset = len(emulator.arrivals)
        process = await bot_process(config, emulator.token)
        try:
            await until(lambda: edited() >= 12)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.communicate()
    assert 12 <= edited() < len(PEOPLE)
    tried = {
        a.chat_id
        for a in emulator.arrivals[offset:]
        if a.method == "editMessageText" and a.chat_id in PEOPLE
    }

    async with running(make_config(db_url), emulator) as herald:
        await herald.until_sent()
        async with herald.sessions() as session:
            done = await session.get(MessageHistory, run.id)
            rows = (
                await session.scalars(
                    select(MessageRecipient).where(MessageRecipient.message_id == run.id)
                )
            ).all()
        assert done is not None and done.status.value == "done"
        assert done.delivered + done.unconfirmed == len(PEOPLE)
        copies = {
            uid: [m for m in emulator.bot_messages(uid) if m.get("text") in (TEXT, "Edited")]
            for uid in PEOPLE
        }
        for row in rows:
            (copy,) = copies[row.user_id]
            if row.status is DeliveryStatus.SENT:
                assert (copy["text"], copy["_edits"]) == ("Edited", 1), row.user_id
            else:
                assert row.status is DeliveryStatus.UNCONFIRMED
                assert copy.get("_edits", 0) <= 1
        assert done.unconfirmed <= CONCURRENCY
        doubted = {row.user_id for row in rows if row.status is DeliveryStatus.UNCONFIRMED}
        assert len(doubted - tried) <= 1, f"never tried, yet in doubt: {doubted - tried}"
        report = next(m for m in emulator.bot_messages(ADMIN_ID) if "Edited: " in m.get("text", ""))
        assert (
            f"Resumed after an interruption; {done.unconfirmed} may be done already"
            in (report["text"])
        )
        if done.unconfirmed:
            await herald.tap(ADMIN_ID, report, button_data(report, "Retry failed"))
            await herald.deliveries_done()
            assert f"Edited: {len(PEOPLE)} of {len(PEOPLE)}" in herald.current(report)["text"]
        for uid in PEOPLE:
            (copy,) = [m for m in emulator.bot_messages(uid) if m.get("_edits")]
            assert copy["text"] == "Edited"
