"""A real crash: the bot process is killed mid-send, and a new one finishes without duplicates."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from bot.delivery.broadcaster import CRASH_NOTE
from db.models import AuditLog, DeliveryStatus, MessageHistory, MessageRecipient
from tests.emulator import Emulator
from tests.emulator.server import serve
from tests.harness import (
    ADMIN_ID,
    JSON,
    bot_process,
    button_data,
    make_config,
    running,
    write_config,
)

PEOPLE = list(range(3001, 3031))
TEXT = "Crash test"


async def _until(predicate: Callable[[], object], within: float = 30.0) -> None:
    for _ in range(int(within / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the bot did not get there in time")


def _got(emulator: Emulator, uid: int) -> int:
    return sum(1 for m in emulator.bot_messages(uid) if m.get("text") == TEXT)


async def _tap_through(emulator: Emulator) -> None:
    """Act as the admin against the running process: /send, text, Skip, stream, Done, Send, Yes."""

    def newest_menu() -> JSON | None:
        menus = [m for m in emulator.bot_messages(ADMIN_ID) if m.get("reply_markup")]
        return menus[-1] if menus else None

    async def tap(label: str, then: Callable[[JSON], bool]) -> None:
        menu = newest_menu()
        assert menu is not None
        emulator.callback(ADMIN_ID, menu["message_id"], button_data(menu, label))
        await _until(lambda: (m := newest_menu()) is not None and then(m))

    emulator.user_message(ADMIN_ID, "/send")
    await _until(lambda: len(emulator.bot_messages(ADMIN_ID)) >= 1)
    emulator.user_message(ADMIN_ID, TEXT)
    await _until(lambda: emulator.last_bot_message(ADMIN_ID)["text"].startswith("Buttons"))
    await tap("Skip", lambda m: m["text"].startswith("Recipients"))
    await tap("3-й поток", lambda m: "30 people selected" in m["text"])
    await tap("Done", lambda m: m["text"].startswith("Review"))
    await tap("Send now", lambda m: m["text"].endswith("Send to 30 people?"))
    await tap("Yes, send", lambda m: not m["text"].endswith("?"))


async def test_killed_process_resumes_without_duplicates(tmp_path: Path, db_url: str) -> None:
    emulator = Emulator(latency=0.2)
    emulator.add_user(ADMIN_ID, first_name="Admin")
    for uid in PEOPLE:
        emulator.add_user(uid, first_name=f"S{uid}")
    async with serve(emulator) as base_url:
        config = write_config(
            tmp_path / "config.toml", base_url, db_url, "[delivery]\nrate_per_second = 4\n"
        )
        process = await bot_process(config, emulator.token)
        try:
            for uid in PEOPLE:
                emulator.user_message(uid, "/start 3rd_stream")
            await _until(lambda: all(emulator.bot_messages(uid) for uid in PEOPLE))
            await _tap_through(emulator)
            await _until(lambda: sum(_got(emulator, uid) for uid in PEOPLE) >= 6)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.communicate()
    reached_before = sum(_got(emulator, uid) for uid in PEOPLE)
    assert 6 <= reached_before < 30

    emulator.latency = 0.0
    async with running(make_config(db_url), emulator) as herald:
        await herald.deliveries_done()
        async with herald.sessions() as session:
            message = (await session.scalars(select(MessageHistory))).one()
            rows = {r.user_id: r for r in (await session.scalars(select(MessageRecipient))).all()}
            actions = (await session.scalars(select(AuditLog.action))).all()
    assert herald.errors == []
    assert message.status.value == "done"
    assert message.delivered + message.unconfirmed == 30
    for uid in PEOPLE:
        got = _got(emulator, uid)
        assert got <= 1, f"{uid} got the message {got} times"
        if rows[uid].status is DeliveryStatus.SENT:
            assert got == 1
        else:
            assert rows[uid].status is DeliveryStatus.UNCONFIRMED
            assert rows[uid].error == CRASH_NOTE
    assert message.unconfirmed >= 1, "something was in flight when the process died"
    assert list(actions) == ["send", "resume"]
