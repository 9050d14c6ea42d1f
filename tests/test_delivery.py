"""Delivery through the real bot: Telegram errors, pauses, Stop, Retry failed, crash and resume."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import select

from bot.callbacks import DeliveryAction, DeliveryCb
from db.models import AuditLog, DeliveryStatus, MessageHistory, MessageRecipient, User
from tests.emulator import Emulator, FaultKind
from tests.harness import (
    ADMIN_ID,
    EVERYONE,
    JSON,
    Harness,
    button_data,
    buttons,
    make_config,
    progress_totals,
    running,
)

STUDENTS = list(range(3001, 3011))
HEADER = "#1 · «Broadcast» → 3-й поток"


def _body(message: JSON, header: str = HEADER) -> list[str]:
    """A delivery screen's lines under its header, which must name the message."""
    first, *rest = str(message["text"]).splitlines()
    assert first == header
    return rest


async def _send(herald: Harness, text: str = "Broadcast") -> JSON:
    """Tap through /send to the 3rd stream; returns the message that becomes progress and report."""
    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, text)
    for label in ("Skip", "3-й поток", "Done", "Send now", "Yes, send"):
        menu = next(
            m for m in reversed(herald.emulator.bot_messages(ADMIN_ID)) if m.get("reply_markup")
        )
        await herald.tap(ADMIN_ID, menu, button_data(menu, label))
    return menu


async def _message(herald: Harness) -> MessageHistory:
    async with herald.sessions() as session:
        return (await session.scalars(select(MessageHistory).order_by(MessageHistory.id))).all()[-1]


async def _rows(herald: Harness) -> dict[int, MessageRecipient]:
    async with herald.sessions() as session:
        rows = (await session.scalars(select(MessageRecipient))).all()
    return {r.user_id: r for r in rows}


async def _assert_counters_in_step(herald: Harness) -> MessageHistory:
    message = await _message(herald)
    counts = Counter(r.status for r in (await _rows(herald)).values())
    assert (
        message.delivered,
        message.failed,
        message.blocked,
        message.unconfirmed,
        message.cancelled,
    ) == (
        counts[DeliveryStatus.SENT],
        counts[DeliveryStatus.FAILED],
        counts[DeliveryStatus.BLOCKED],
        counts[DeliveryStatus.UNCONFIRMED],
        counts[DeliveryStatus.CANCELLED],
    )
    assert message.total == sum(counts.values())
    return message


def _received(emulator: Emulator, user_id: int, text: str = "Broadcast") -> int:
    return sum(1 for m in emulator.bot_messages(user_id) if m.get("text") == text)


async def _wait_until(predicate: object, limit: float = 10.0) -> None:
    assert callable(predicate)
    for _ in range(int(limit / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_errors_are_classified_and_retried_as_the_policy_says(herald: Harness) -> None:
    emulator = herald.emulator
    await herald.enroll(STUDENTS, "3rd_stream")
    emulator.fail(FaultKind.BLOCKED, chat_id=3002, method="sendMessage")
    emulator.fail(FaultKind.CHAT_NOT_FOUND, chat_id=3003, method="sendMessage")
    emulator.fail(FaultKind.SERVER_ERROR, chat_id=3004, method="sendMessage")
    emulator.fail(FaultKind.TIMEOUT, chat_id=3005, method="sendMessage")
    emulator.fail(FaultKind.DROP, chat_id=3006, method="sendMessage")
    emulator.fail(FaultKind.CUT, chat_id=3007, method="sendMessage")
    emulator.fail(FaultKind.SERVER_ERROR, chat_id=3008, method="sendMessage", times=None)
    emulator.fail(FaultKind.DEACTIVATED, chat_id=3009, method="sendMessage")
    before = len(emulator.arrivals)
    report = await _send(herald)
    await herald.deliveries_done()

    rows = await _rows(herald)
    status = {uid: rows[uid].status.value for uid in STUDENTS}
    assert status == {
        3001: "sent",
        3002: "blocked",
        3003: "failed",
        3004: "sent",
        3005: "unconfirmed",
        3006: "sent",
        3007: "unconfirmed",
        3008: "failed",
        3009: "blocked",
        3010: "sent",
    }
    assert rows[3002].error == "Forbidden: bot was blocked by the user"
    assert rows[3003].error == "Chat not found"
    assert rows[3008].error == "Bad Gateway" and rows[3008].attempts == 1
    assert rows[3005].error == "Timed out"
    attempts_at_emulator = Counter(
        a.chat_id for a in emulator.arrivals[before:] if a.method == "sendMessage"
    )
    assert attempts_at_emulator[3004] == 2 and attempts_at_emulator[3006] == 2
    assert attempts_at_emulator[3008] == 3
    assert attempts_at_emulator[3005] == 1 and attempts_at_emulator[3007] == 1
    # A send that timed out or was cut off reached Telegram all the same (the fault's default).
    assert {uid: _received(emulator, uid) for uid in STUDENTS} == {
        3001: 1,
        3002: 0,
        3003: 0,
        3004: 1,
        3005: 1,
        3006: 1,
        3007: 1,
        3008: 0,
        3009: 0,
        3010: 1,
    }
    async with herald.sessions() as session:
        blocked_users = (await session.scalars(select(User.id).where(User.is_blocked))).all()
    assert sorted(blocked_users) == [3002, 3009]
    message = await _assert_counters_in_step(herald)
    assert (message.delivered, message.failed, message.blocked, message.unconfirmed) == (4, 2, 2, 2)
    shown = emulator.find_message(ADMIN_ID, report["message_id"])
    assert shown is not None
    assert _body(shown)[:3] == [
        "✅ Delivery finished",
        "Delivered: 4 of 10",
        "Failed: 2 · Blocked: 2 · Unconfirmed: 2 · Cancelled: 0",
    ]
    assert [label for row in buttons(shown) for label, _ in row] == [
        "📋 Failures",
        "🔁 Retry failed",
        EVERYONE,
    ]


def _slow_students(emulator: Emulator, seconds: float) -> None:
    """Each send to a student takes `seconds`, so a run lasts long enough to show frames."""

    async def wait(chat_id: int | None) -> None:
        if chat_id != ADMIN_ID:
            await asyncio.sleep(seconds)

    emulator.before["sendMessage"] = wait


async def test_progress_counts_everyone_from_its_first_frame(herald: Harness) -> None:
    """A send to 3 reads "0 of 3" from its first frame, and a retry counts on from what was
    done; no frame ever says "of 0"."""
    emulator = herald.emulator
    await herald.enroll(STUDENTS[:3], "3rd_stream")
    _slow_students(emulator, 0.15)
    emulator.fail(FaultKind.CHAT_NOT_FOUND, chat_id=STUDENTS[1], method="sendMessage")
    progress = await _send(herald)
    await herald.deliveries_done()
    shown = herald.current(progress)
    sending = progress_totals(shown)
    assert sending, f"no progress frame among {shown.get('_shown')}"
    assert sending[0] == (0, 3)
    assert {total for _, total in sending} == {3}
    assert _body(shown)[:2] == ["✅ Delivery finished", "Delivered: 2 of 3"]

    await herald.tap(ADMIN_ID, shown, button_data(shown, "Retry failed"))
    await herald.deliveries_done()
    retried = progress_totals(herald.current(progress))[len(sending) :]
    assert retried, "the retry showed its progress"
    assert retried[0] == (2, 3), "the retry starts from the 2 already done"
    assert {total for _, total in retried} == {3}
    assert _body(herald.current(progress), HEADER + " · retry")[1] == "Delivered: 3 of 3"


async def test_retry_after_pauses_all_sending(herald: Harness) -> None:
    emulator = herald.emulator
    await herald.enroll(STUDENTS, "3rd_stream")
    emulator.fail(FaultKind.RETRY_AFTER, chat_id=3003, method="sendMessage", retry_after=1)
    before = len(emulator.arrivals)
    await _send(herald)
    await herald.deliveries_done()
    sends = [
        a for a in emulator.arrivals[before:] if a.method == "sendMessage" and a.chat_id in STUDENTS
    ]
    limited_at = next(a.at for a in sends if a.chat_id == 3003)
    during_pause = [a for a in sends if limited_at + 0.05 < a.at < limited_at + 0.98]
    assert during_pause == []
    after = [a for a in sends if a.at >= limited_at + 0.98]
    assert any(a.chat_id == 3003 for a in after)
    assert all(_received(emulator, uid) == 1 for uid in STUDENTS)
    message = await _assert_counters_in_step(herald)
    assert message.delivered == 10


async def test_stop_mid_send_cancels_the_rest(herald: Harness) -> None:
    emulator = herald.emulator
    people = list(range(3001, 3061))
    await herald.enroll(people, "3rd_stream")
    progress = await _send(herald)
    await _wait_until(lambda: sum(_received(emulator, uid) for uid in people) >= 5)
    shown = emulator.find_message(ADMIN_ID, progress["message_id"])
    assert shown is not None and _body(shown)[0].startswith("📤 Sending: ")
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Stop"))
    assert emulator.callback_answers[-1]["text"] == "Stopping…"
    await herald.deliveries_done()

    message = await _assert_counters_in_step(herald)
    assert message.status.value == "stopped"
    assert 5 <= message.delivered < 60
    assert message.delivered + message.cancelled == 60
    delivered = sum(_received(emulator, uid) for uid in people)
    assert delivered == message.delivered
    assert _body(shown)[:2] == ["⏹ Delivery stopped", f"Delivered: {message.delivered} of 60"]
    assert f"Cancelled: {message.cancelled}" in shown["text"]

    await herald.tap(ADMIN_ID, shown, DeliveryCb(DeliveryAction.STOP, message.id).pack())
    assert emulator.callback_answers[-1]["text"] == "This delivery is not running any more."
    resend = f"📤 Send to the {message.cancelled} not reached"
    assert [label for row in buttons(shown) for label, _ in row] == [resend, EVERYONE]
    await herald.tap(ADMIN_ID, shown, button_data(shown, "not reached"))
    await herald.deliveries_done()
    assert _body(shown, HEADER + " · retry")[:2] == ["✅ Delivery finished", "Delivered: 60 of 60"]
    assert [label for row in buttons(shown) for label, _ in row] == [EVERYONE]
    assert all(_received(emulator, uid) == 1 for uid in people)
    async with herald.sessions() as session:
        actions = (await session.scalars(select(AuditLog.action))).all()
    assert actions == ["send", "stop", "retry"]


async def test_retry_failed_resends_only_failed_and_unconfirmed(herald: Harness) -> None:
    emulator = herald.emulator
    await herald.enroll(STUDENTS, "3rd_stream")
    emulator.fail(FaultKind.CHAT_NOT_FOUND, chat_id=3002, method="sendMessage")
    emulator.fail(FaultKind.TIMEOUT, chat_id=3003, method="sendMessage", delivered=False)
    emulator.fail(FaultKind.BLOCKED, chat_id=3004, method="sendMessage")
    report = await _send(herald)
    await herald.deliveries_done()
    shown = emulator.find_message(ADMIN_ID, report["message_id"])
    assert shown is not None
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Retry failed"))
    assert _body(shown, HEADER + " · retry") == [
        "Retry: 1 person not reached for sure, and 1 person whose send was cut off: they may "
        "have it already and would get it twice. Send to whom?"
    ]
    assert [label for row in buttons(shown) for label, _ in row] == [
        "🔁 All 2, including those in doubt",
        "🔁 Only the 1 surely not reached",
        "⬅️ Report",
    ]
    await herald.tap(ADMIN_ID, shown, button_data(shown, "All 2"))
    await herald.deliveries_done()

    retry_report = shown
    assert _body(retry_report, HEADER + " · retry")[:2] == [
        "✅ Delivery finished",
        "Delivered: 9 of 10",
    ]
    assert [label for row in buttons(retry_report) for label, _ in row] == [
        "📋 Failures",
        EVERYONE,
    ]
    assert all(_received(emulator, uid) == 1 for uid in STUDENTS if uid != 3004)
    assert _received(emulator, 3004) == 0
    rows = await _rows(herald)
    assert rows[3002].status.value == "sent" and rows[3002].attempts == 2
    assert rows[3004].status.value == "blocked"
    await _assert_counters_in_step(herald)

    stale = DeliveryCb(DeliveryAction.RETRY, rows[3002].message_id).pack()
    await herald.tap(ADMIN_ID, retry_report, stale)
    assert emulator.callback_answers[-1]["text"].startswith("Nothing to retry")
    assert [label for row in buttons(retry_report) for label, _ in row] == [
        "📋 Failures",
        EVERYONE,
    ]
    async with herald.sessions() as session:
        actions = (await session.scalars(select(AuditLog.action))).all()
    assert actions == ["send", "retry"]


async def test_retry_can_leave_out_the_people_in_doubt(herald: Harness) -> None:
    emulator = herald.emulator
    await herald.enroll(STUDENTS[:4], "3rd_stream")
    emulator.fail(FaultKind.CHAT_NOT_FOUND, chat_id=3002, method="sendMessage")
    emulator.fail(FaultKind.CUT, chat_id=3003, method="sendMessage")
    report = await _send(herald)
    await herald.deliveries_done()
    sent_before = herald.count(ADMIN_ID)
    await herald.tap(ADMIN_ID, report, button_data(report, "Retry failed"))
    await herald.tap(ADMIN_ID, report, button_data(report, "Report"))
    assert _body(report)[0] == "✅ Delivery finished"
    await herald.tap(ADMIN_ID, report, button_data(report, "Retry failed"))
    await herald.tap(ADMIN_ID, report, button_data(report, "Only the 1"))
    await herald.deliveries_done()
    rows = await _rows(herald)
    assert (rows[3002].status.value, rows[3003].status.value) == ("sent", "unconfirmed")
    assert _received(emulator, 3003) == 1
    assert herald.count(ADMIN_ID) == sent_before, "the retry was drawn in the report's message"


async def test_failures_list_is_paged(herald: Harness) -> None:
    emulator = herald.emulator
    people = list(range(3001, 3016))
    await herald.enroll(people, "3rd_stream")
    for uid in people[:12]:
        emulator.fail(FaultKind.CHAT_NOT_FOUND, chat_id=uid, method="sendMessage")
    report = await _send(herald)
    await herald.deliveries_done()
    shown = emulator.find_message(ADMIN_ID, report["message_id"])
    assert shown is not None
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Failures"))
    lines = _body(shown)
    assert lines[0] == "Not reached: 12"
    assert lines[1] == (
        "• Student3001 @s3001 (3001) — Telegram does not know this chat (they never started "
        "the bot)"
    )
    assert len(lines) == 11
    await herald.tap(ADMIN_ID, shown, button_data(shown, "▶"))
    assert [line.split(" — ")[0] for line in _body(shown)[1:]] == [
        "• Student3011 @s3011 (3011)",
        "• Student3012 @s3012 (3012)",
    ]
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Report"))
    assert _body(shown)[:2] == ["✅ Delivery finished", "Delivered: 3 of 15"]


async def test_admin_commands_answer_while_a_send_runs(herald: Harness) -> None:
    people = list(range(3001, 3061))
    await herald.enroll(people, "3rd_stream")
    await _send(herald)
    broadcaster = herald.app.bot_data.services.broadcaster
    assert broadcaster.runs, "the delivery should still be running"
    reply = await herald.say(ADMIN_ID, "/streams")
    assert reply["text"].startswith("Streams")
    assert broadcaster.runs, "the reply came while the delivery was running"
    prompt = await herald.say(ADMIN_ID, "/send")
    assert prompt["text"].startswith("New message (1/4)")
    await herald.deliveries_done()
    assert all(_received(herald.emulator, uid) == 1 for uid in people)


async def test_crash_mid_send_resumes_without_duplicates(db_url: str, emulator: Emulator) -> None:
    people = list(range(3001, 3041))
    config = make_config(db_url)
    emulator.latency = 0.02
    async with running(config, emulator) as first:
        await first.enroll(people, "3rd_stream")
        progress = await _send(first)
        await _wait_until(lambda: sum(_received(emulator, uid) for uid in people) >= 8)
    assert first.errors == []
    before = {uid: _received(emulator, uid) for uid in people}
    assert 8 <= sum(before.values()) < 40
    shown = emulator.find_message(ADMIN_ID, progress["message_id"])
    assert shown is not None
    first_frames = len(progress_totals(shown))

    emulator.latency = 0.005
    async with running(config, emulator) as second:
        await second.until_sent()
        message = await _assert_counters_in_step(second)
        rows = await _rows(second)
    assert second.errors == []
    assert message.status.value == "done"
    for uid in people:
        got = _received(emulator, uid)
        assert got <= 1, f"{uid} got the message {got} times"
        if rows[uid].status is DeliveryStatus.SENT:
            assert got == 1
        else:
            assert rows[uid].status is DeliveryStatus.UNCONFIRMED
            assert rows[uid].error == "in flight when the bot stopped; may have arrived"
    assert message.delivered + message.unconfirmed == 40
    report = emulator.find_message(ADMIN_ID, progress["message_id"])
    assert report is not None and _body(report)[0] == "✅ Delivery finished"
    assert f"Resumed after an interruption; {message.unconfirmed} may have it" in report["text"]
    resumed = progress_totals(report)[first_frames:]
    assert resumed, "the resumed run showed its progress in the same message"
    assert resumed[0][0] >= 8 and {total for _, total in resumed} == {40}, resumed
    async with second.sessions() as session:
        actions = (await session.scalars(select(AuditLog.action))).all()
    assert actions == ["send", "resume"]


async def test_paid_broadcast_flag_reaches_telegram(db_url: str, emulator: Emulator) -> None:
    config = make_config(db_url, delivery={"paid_broadcast": True, "rate_per_second": 200})
    async with running(config, emulator) as herald:
        await herald.enroll(STUDENTS[:3], "3rd_stream")
        await _send(herald)
        await herald.deliveries_done()
    assert herald.errors == []
    # PTB puts `true` (JSON) on the wire; the emulator decodes it and records what it got.
    for uid in STUDENTS[:3]:
        assert herald.emulator.last_bot_message(uid)["_allow_paid_broadcast"] is True
    admin_flags = [m.get("_allow_paid_broadcast") for m in herald.emulator.bot_messages(ADMIN_ID)]
    assert admin_flags and set(admin_flags) == {None}, "only broadcasts are paid for"


async def test_unexpected_failure_breaks_off_cleanly(herald: Harness) -> None:
    emulator = herald.emulator
    people = list(range(3001, 3041))
    await herald.enroll(people, "3rd_stream")
    emulator.fail(FaultKind.GARBLED, chat_id=3010, method="sendMessage")
    report = await _send(herald)
    await herald.deliveries_done()
    message = await _assert_counters_in_step(herald)
    assert message.status.value == "failed"
    rows = await _rows(herald)
    pending = [uid for uid, row in rows.items() if row.status is DeliveryStatus.PENDING]
    assert pending, "people never tried stay pending"
    assert message.delivered + message.unconfirmed + len(pending) == 40
    assert rows[3010].status is DeliveryStatus.UNCONFIRMED
    # The garbled answer came without a send; sends in flight at the break may have arrived.
    for uid, row in rows.items():
        got = _received(emulator, uid)
        if row.status is DeliveryStatus.SENT:
            assert got == 1, uid
        elif row.status is DeliveryStatus.UNCONFIRMED and uid != 3010:
            assert got <= 1, uid
        else:
            assert got == 0, uid
    shown = emulator.find_message(ADMIN_ID, report["message_id"])
    assert shown is not None
    assert _body(shown)[0] == "⚠️ Delivery broke off; details are in the bot's log"
    assert f"Not tried yet: {len(pending)}" in shown["text"]
    unconfirmed = {uid for uid, row in rows.items() if row.status is DeliveryStatus.UNCONFIRMED}

    await herald.tap(ADMIN_ID, shown, button_data(shown, "Retry failed"))
    await herald.press("including those in doubt")
    await herald.deliveries_done()
    message = await _assert_counters_in_step(herald)
    assert (message.status.value, message.delivered) == ("done", 40)
    for uid in people:
        # Only people whose first send was unconfirmed can have it twice: the admin chose that.
        assert _received(emulator, uid) in ((1, 2) if uid in unconfirmed else (1,))


async def test_report_is_sent_anew_when_the_progress_message_is_gone(herald: Harness) -> None:
    await herald.enroll(STUDENTS[:3], "3rd_stream")
    progress = await _send(herald)
    herald.emulator.chats[ADMIN_ID].remove(progress)
    await herald.deliveries_done()
    report = herald.last(ADMIN_ID)
    assert report["message_id"] != progress["message_id"]
    assert _body(report)[:2] == ["✅ Delivery finished", "Delivered: 3 of 3"]
