"""Two bot processes on one database: one active, one standing by; the standby takes over when
the active one dies, finishes its delivery with nobody twice, and sends what came due."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from db.engine import create_engine, session_factory
from db.models import (
    DeliveryStatus,
    MessageHistory,
    MessageKind,
    MessageRecipient,
    MessageStatus,
    RecipientType,
)
from tests.emulator import Emulator
from tests.emulator.server import serve
from tests.harness import (
    ADMIN_ID,
    TEST_LEASE,
    bot_process,
    send_through_process,
    start_through_process,
    until,
    write_config,
)

PEOPLE = list(range(3001, 3041))
LATE = list(range(5001, 5004))
TEXT = "Failover test"
TAKEOVER = TEST_LEASE + 5.0
"""The lease, a standby's check, and its start-up (polling, jobs) on a loaded machine."""


async def _within(predicate: Callable[[], object], seconds: float) -> bool:
    """Whether `predicate` came true within `seconds` (for outcomes a test tells apart)."""
    try:
        await until(predicate, within=seconds)
    except AssertionError:
        return False
    return True


def _got(emulator: Emulator, uid: int, text: str = TEXT) -> int:
    return sum(1 for m in emulator.bot_messages(uid) if m.get("text") == text)


class Output:
    """A process's combined output, read as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.text = ""
        assert process.stdout is not None
        self._task = asyncio.create_task(self._read(process.stdout))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.text += line.decode()


async def _schedule(db_url: str, at: datetime, user_ids: list[int]) -> int:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine).begin() as session:
            message = MessageHistory(
                author_id=ADMIN_ID,
                kind=MessageKind.TEXT,
                text="Due during the failover",
                entities=[],
                buttons=[],
                selection={"users": user_ids},
                recipient_type=RecipientType.INDIVIDUAL,
                status=MessageStatus.SCHEDULED,
                scheduled_at=at,
                created_at=datetime.now(UTC),
            )
            session.add(message)
            await session.flush()
            return message.id
    finally:
        await engine.dispose()


async def _all_finished(db_url: str) -> bool:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            statuses = set((await session.scalars(select(MessageHistory.status))).all())
    finally:
        await engine.dispose()
    return statuses == {MessageStatus.DONE}


async def _recipients(db_url: str) -> dict[int, dict[int, DeliveryStatus]]:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.scalars(select(MessageRecipient))).all()
    finally:
        await engine.dispose()
    found: dict[int, dict[int, DeliveryStatus]] = {}
    for row in rows:
        found.setdefault(row.message_id, {})[row.user_id] = row.status
    return found


async def test_standby_takes_over_a_killed_active_process(tmp_path: Path, db_url: str) -> None:
    emulator = Emulator(latency=0.05)
    emulator.add_user(ADMIN_ID, first_name="Admin")
    for uid in PEOPLE + LATE:
        emulator.add_user(uid, first_name=f"S{uid}")
    async with serve(emulator) as base_url:
        config = write_config(
            tmp_path / "config.toml", base_url, db_url, "[delivery]\nrate_per_second = 10\n"
        )
        first = await bot_process(config, emulator.token)
        first_out = Output(first)
        second: asyncio.subprocess.Process | None = None
        try:
            await start_through_process(emulator, PEOPLE, "/start 3rd_stream")
            second = await bot_process(config, emulator.token)
            second_out = Output(second)
            await until(lambda: "standing by to take over" in second_out.text)
            await start_through_process(emulator, LATE, "/start")

            await send_through_process(emulator, TEXT, len(PEOPLE))
            await until(lambda: sum(_got(emulator, uid) for uid in PEOPLE) >= 10)
            due = datetime.now(UTC) + timedelta(seconds=2)
            scheduled = await _schedule(db_url, due, LATE)
            first.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            await first.wait()

            emulator.add_user(7001, first_name="After")
            emulator.user_message(7001, "/start")
            await until(lambda: emulator.bot_messages(7001), within=30)
            takeover = time.monotonic() - killed
            await until(lambda: all(_got(emulator, uid, "Due during the failover") for uid in LATE))
            sent_late = time.monotonic() - killed
            await until(lambda: sum(_got(emulator, uid) for uid in PEOPLE) >= len(PEOPLE) - 8)
            for _ in range(600):
                if await _all_finished(db_url):
                    break
                await asyncio.sleep(0.1)
        finally:
            for process in (first, second):
                if process is not None and process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    await process.wait()
        await asyncio.sleep(0.1)

    assert takeover <= TAKEOVER, f"the standby answered {takeover:.1f} s after the kill"
    assert sent_late <= takeover + 3.0, "the message due during the failover waited too long"
    recipients = await _recipients(db_url)
    for uid in PEOPLE:
        got = _got(emulator, uid)
        assert got <= 1, f"{uid} got the message {got} times"
    delivery = next(rows for mid, rows in recipients.items() if mid != scheduled)
    in_doubt = [uid for uid, s in delivery.items() if s is DeliveryStatus.UNCONFIRMED]
    assert all(s in (DeliveryStatus.SENT, DeliveryStatus.UNCONFIRMED) for s in delivery.values())
    assert len(in_doubt) <= 8, f"{len(in_doubt)} in doubt"
    for uid in LATE:
        assert _got(emulator, uid, "Due during the failover") == 1
    for uid in [*PEOPLE, *LATE, 7001]:
        welcomes = [t for t in emulator.texts_to(uid) if t.startswith("Hello!")]
        assert len(welcomes) == 1, f"{uid} was answered {len(welcomes)} times"
    assert "Conflict" not in second_out.text, second_out.text
    assert "Traceback" not in second_out.text, second_out.text
    assert "Traceback" not in first_out.text


async def test_a_paused_active_process_is_fenced_out_when_it_wakes(
    tmp_path: Path, db_url: str
) -> None:
    """SIGSTOP the active process past its lease: the standby takes over and finishes; when the
    paused one wakes it sends and records nothing more, and exits to come back as a standby.

    SQLite only: a process frozen inside a ledger write keeps the file's write lock, so nobody
    can take over until it wakes; then exactly one of the two goes on, still nobody twice.
    """
    emulator = Emulator(latency=0.05)
    emulator.add_user(ADMIN_ID, first_name="Admin")
    for uid in PEOPLE:
        emulator.add_user(uid, first_name=f"S{uid}")
    async with serve(emulator) as base_url:
        config = write_config(
            tmp_path / "config.toml", base_url, db_url, "[delivery]\nrate_per_second = 10\n"
        )
        active = await bot_process(config, emulator.token)
        active_out = Output(active)
        await until(lambda: "Herald is running" in active_out.text)
        standby = await bot_process(config, emulator.token)
        standby_out = Output(standby)
        took_over = False
        try:
            await until(lambda: "standing by" in standby_out.text)
            await start_through_process(emulator, PEOPLE, "/start 3rd_stream")
            await send_through_process(emulator, TEXT, len(PEOPLE))
            await until(lambda: sum(_got(emulator, uid) for uid in PEOPLE) >= 10)
            active.send_signal(signal.SIGSTOP)
            took_over = await _within(lambda: "Herald is running" in standby_out.text, 30)
            if not took_over:
                assert not db_url.startswith("postgresql"), standby_out.text
                assert "database is locked" in standby_out.text, standby_out.text
            await asyncio.sleep(2.0)
            active.send_signal(signal.SIGCONT)
            if took_over:
                await asyncio.wait_for(active.wait(), 30)
            for _ in range(600):
                if await _all_finished(db_url):
                    break
                await asyncio.sleep(0.1)

            def exactly_one_active() -> bool:
                return ("Herald is running" in standby_out.text) == (active.returncode is not None)

            one_active = await _within(exactly_one_active, 15)
        finally:
            code = active.returncode
            for process in (active, standby):
                if process.returncode is None:
                    process.send_signal(signal.SIGCONT)
                    process.send_signal(signal.SIGTERM)
                    await process.wait()
    assert one_active, f"{code}\n{active_out.text}\n-----\n{standby_out.text}"
    assert await _all_finished(db_url), f"{code}\n{active_out.text}\n-----\n{standby_out.text}"
    if code is not None:
        assert code == 3, active_out.text
        assert "another process is the active one now" in active_out.text
    delivery = next(iter((await _recipients(db_url)).values()))
    for uid in PEOPLE:
        assert _got(emulator, uid) <= 1, uid
        if delivery[uid] is DeliveryStatus.SENT:
            assert _got(emulator, uid) == 1, uid
    assert sum(1 for s in delivery.values() if s is DeliveryStatus.UNCONFIRMED) <= 8


async def test_a_clean_stop_hands_the_role_over_at_once(tmp_path: Path, db_url: str) -> None:
    emulator = Emulator()
    emulator.add_user(ADMIN_ID, first_name="Admin")
    emulator.add_user(7001, first_name="After")
    async with serve(emulator) as base_url:
        config = write_config(tmp_path / "config.toml", base_url, db_url, lease=5.0)
        active = await bot_process(config, emulator.token)
        active_out = Output(active)
        await until(lambda: "Herald is running" in active_out.text)
        standby = await bot_process(config, emulator.token)
        standby_out = Output(standby)
        try:
            await until(lambda: "standing by" in standby_out.text)
            active.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(active.wait(), 30) == 0
            stopped = time.monotonic()
            await until(lambda: "this process is the active one" in standby_out.text, within=30)
            handover = time.monotonic() - stopped
            emulator.user_message(7001, "/start")
            await until(lambda: emulator.bot_messages(7001), within=30)
        finally:
            for process in (active, standby):
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    await process.wait()
    # Waiting the lease out would take at least 3.3 s (it is renewed every 1.7 s for 5 s);
    # handed over, the standby's next check (once a second) takes it.
    assert handover < 2.5, f"the standby took {handover:.1f} s after a clean stop"
