"""Scheduling through the real bot: the conversation, dispatch on time, restarts, the queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.callbacks import QueueAction, QueueCb
from bot.delivery.content import Content
from bot.scheduling.dispatcher import Outcome, job_name
from db.models import AuditLog, MessageHistory, MessageKind, MessageStatus
from db.repo.audience import Selection
from tests.emulator import Emulator
from tests.harness import (
    ADMIN_ID,
    JSON,
    OTHER_ADMIN_ID,
    Harness,
    button_data,
    buttons,
    make_config,
    running,
)

STUDENTS = [3001, 3002, 3003]
TEXT = "Scheduled hello"
ON_TIME = 3.0
"""Seconds from a message's time to its first send reaching Telegram, at most: its own job
fired it, not the sweep (every 30 s here). How late it is on an idle machine is measured by
bench/scheduling.py; a busy test machine only stretches this."""


def _menu(herald: Harness) -> JSON:
    return next(
        m for m in reversed(herald.emulator.bot_messages(ADMIN_ID)) if m.get("reply_markup")
    )


async def _press(herald: Harness, label: str) -> JSON:
    menu = _menu(herald)
    await herald.tap(ADMIN_ID, menu, button_data(menu, label))
    return menu


async def _to_review(herald: Harness, **message: object) -> None:
    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, **message)  # type: ignore[arg-type]
    for label in ("Skip", "3-й поток", "Done"):
        await _press(herald, label)


async def _messages(herald: Harness) -> list[MessageHistory]:
    async with herald.sessions() as session:
        return list(
            (await session.scalars(select(MessageHistory).order_by(MessageHistory.id))).all()
        )


async def _actions(herald: Harness) -> list[str]:
    async with herald.sessions() as session:
        return list((await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all())


def _monotonic(at: datetime) -> float:
    """`at` on the monotonic clock the emulator stamps each arriving call with.

    The monotonic reading is taken first, so the result errs early by microseconds: a send
    on time is never taken for an early one.
    """
    now_monotonic = time.monotonic()
    return now_monotonic + (at - datetime.now(UTC)).total_seconds()


def _got(herald: Harness, uid: int, text: str = TEXT) -> int:
    return sum(1 for m in herald.emulator.bot_messages(uid) if m.get("text") == text)


async def _until(predicate: Callable[[], object], within: float = 10.0) -> None:
    for _ in range(int(within / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not reached in time")


async def _schedule_directly(herald: Harness, at: datetime, text: str = TEXT) -> int:
    services = herald.app.bot_data.services
    selection = Selection(stream_ids=frozenset({herald.stream_id("3rd_stream")}))
    message = await services.broadcaster.schedule(
        ADMIN_ID, Content(MessageKind.TEXT, text), selection, at
    )
    services.dispatcher.plan(message.id, at)
    return message.id


async def test_schedule_path_with_wrong_input(herald: Harness) -> None:
    await herald.enroll(STUDENTS, "3rd_stream")
    await _to_review(herald, text=TEXT)
    await _press(herald, "Schedule")
    prompt = herald.last(ADMIN_ID)
    assert prompt["text"].startswith("When should it go out?\nYour time zone: UTC, now ")
    assert next(label for row in buttons(prompt) for label, _ in row) == "In 1 hour"

    answers = {
        "whenever": "I can't read that time.",
        "31.02 10:00": "There is no such date.",
        "2020-01-01 10:00": "That time has already passed.",
        "2099-01-01 10:00": "That is more than a year ahead.",
    }
    for typed, answer in answers.items():
        reply = await herald.say(ADMIN_ID, typed)
        assert reply["text"].startswith(answer), typed
    sticker = {"file_id": "S", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1}
    reply = await herald.say(ADMIN_ID, sticker={**sticker, "is_animated": False, "is_video": False})
    assert reply["text"].startswith("I can't read that time.")

    confirm = await herald.say(ADMIN_ID, "+2h")
    assert confirm["text"].startswith("Schedule it for ")
    await _press(herald, "Back")
    assert herald.last(ADMIN_ID)["text"].startswith("Review (4/4): 3 people")
    await _press(herald, "Schedule")
    await herald.say(ADMIN_ID, "+2h")
    await _press(herald, "Another time")
    assert herald.last(ADMIN_ID)["text"].startswith("When should it go out?")
    await _press(herald, "In 1 hour")
    await _press(herald, "✅ Schedule")
    done = herald.last(ADMIN_ID)
    assert done["text"].startswith("⏰ Scheduled for ") and "/scheduled" in done["text"]

    (message,) = await _messages(herald)
    assert message.status is MessageStatus.SCHEDULED and message.total == 0
    assert message.scheduled_at is not None
    ahead = message.scheduled_at - datetime.now(UTC)
    assert timedelta(minutes=59) < ahead <= timedelta(hours=1)
    jobs = herald.app.job_queue.get_jobs_by_name(job_name(message.id))  # type: ignore[union-attr]
    assert len(jobs) == 1 and jobs[0].next_t is not None
    assert abs((jobs[0].next_t - message.scheduled_at).total_seconds()) < 0.001
    assert all(_got(herald, uid) == 0 for uid in STUDENTS)
    assert await _actions(herald) == ["schedule"]


async def test_daylight_saving_gap_and_overlap_in_admin_zone(herald: Harness) -> None:
    await herald.enroll(STUDENTS, "3rd_stream")
    reply = await herald.say(ADMIN_ID, "/timezone europe/berlin")
    assert reply["text"].startswith("Time zone set to Europe/Berlin;")
    await _to_review(herald, text=TEXT)
    await _press(herald, "Schedule")
    assert "Your time zone: Europe/Berlin" in herald.last(ADMIN_ID)["text"]
    gap = await herald.say(ADMIN_ID, f"{_next_last_sunday(3)} 02:30")
    assert "does not exist in Europe/Berlin that day: the clocks jump forward" in gap["text"]
    overlap = await herald.say(ADMIN_ID, f"{_next_last_sunday(10)} 02:30")
    assert overlap["text"].startswith("Schedule it for ")
    assert "happens twice that night" in overlap["text"] and "CEST" in overlap["text"]


def _next_last_sunday(month: int) -> str:
    """The next last Sunday of `month` (Europe's clock change) at least a day ahead."""
    soon = datetime.now(UTC) + timedelta(days=1)
    for year in (soon.year, soon.year + 1):
        day = _last_sunday(year, month)
        if day > soon.strftime("%Y-%m-%d"):
            return day
    raise AssertionError("no clock change within a year")


def _last_sunday(year: int, month: int) -> str:
    day = datetime(year, month + 1, 1) - timedelta(days=1)
    while day.weekday() != 6:
        day -= timedelta(days=1)
    return day.strftime("%Y-%m-%d")


async def test_message_goes_out_at_its_time_to_the_stream_as_it_is_then(herald: Harness) -> None:
    await herald.enroll(STUDENTS, "3rd_stream")
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    due = _monotonic(at)
    message_id = await _schedule_directly(herald, at)
    await herald.enroll([3004], "3rd_stream")
    await herald.feed(herald.emulator.member_status(3002, "kicked"))
    audience = [*STUDENTS, 3004]
    assert time.monotonic() < due, "the set-up ran past the scheduled time; nothing is proven"
    assert [_got(herald, uid) for uid in audience] == [0, 0, 0, 0]
    since = len(herald.emulator.arrivals)
    await _until(lambda: _got(herald, 3004) == 1)
    first = min(
        a.at
        for a in herald.emulator.arrivals[since:]
        if a.chat_id in audience and a.method == "sendMessage"
    )
    await herald.deliveries_done()
    assert [_got(herald, uid) for uid in audience] == [1, 0, 1, 1]
    (message,) = await _messages(herald)
    assert (message.id, message.status, message.total, message.delivered) == (
        message_id,
        MessageStatus.DONE,
        3,
        3,
    )
    report = herald.last(ADMIN_ID)
    assert report["text"].splitlines()[:3] == [
        "#1 · «Scheduled hello» → 3-й поток · scheduled",
        "✅ Delivery finished",
        "Delivered: 3 of 3",
    ]
    late = first - due
    assert 0 <= late < ON_TIME, f"the first send reached Telegram {late:+.3f} s from its time"
    assert await _actions(herald) == ["schedule", "dispatch"]


async def test_media_can_be_scheduled(herald: Harness) -> None:
    await herald.enroll(STUDENTS, "3rd_stream")
    services = herald.app.bot_data.services
    content = Content(MessageKind.DOCUMENT, "Read this", file_id="DOC-1")
    at = datetime.now(UTC) + timedelta(seconds=0.5)
    message = await services.broadcaster.schedule(ADMIN_ID, content, Selection(everyone=True), at)
    services.dispatcher.plan(message.id, at)
    await _until(
        lambda: all(herald.emulator.bot_messages(uid)[-1].get("document") for uid in STUDENTS)
    )
    await herald.deliveries_done()
    got = herald.emulator.last_bot_message(3001)
    assert got["document"]["file_id"] == "DOC-1" and got["caption"] == "Read this"


async def test_restart_recreates_jobs(db_url: str, emulator: Emulator) -> None:
    config = make_config(db_url)
    async with running(config, emulator) as first:
        await first.enroll(STUDENTS, "3rd_stream")
        message_id = await _schedule_directly(first, datetime.now(UTC) + timedelta(seconds=1.5))
    assert all(_got(first, uid) == 0 for uid in STUDENTS)
    async with running(config, emulator) as second:
        assert second.app.bot_data.services.dispatcher.has_job(message_id)
        await _until(lambda: all(_got(second, uid) == 1 for uid in STUDENTS))
        await second.deliveries_done()
    assert second.errors == []
    assert all(_got(second, uid) == 1 for uid in STUDENTS)


async def _stored_overdue(db_url: str, emulator: Emulator, late: timedelta) -> int:
    async with running(make_config(db_url), emulator) as herald:
        await herald.enroll(STUDENTS, "3rd_stream")
        services = herald.app.bot_data.services
        message = await services.broadcaster.schedule(
            ADMIN_ID,
            Content(MessageKind.TEXT, TEXT),
            Selection(everyone=True),
            datetime.now(UTC) - late,
        )
    return message.id


async def test_overdue_inside_max_lateness_goes_out_at_start(
    db_url: str, emulator: Emulator
) -> None:
    message_id = await _stored_overdue(db_url, emulator, timedelta(hours=5))
    async with running(make_config(db_url), emulator) as herald:
        await herald.deliveries_done()
        (message,) = await _messages(herald)
    assert (message.id, message.status) == (message_id, MessageStatus.DONE)
    assert all(_got(herald, uid) == 1 for uid in STUDENTS)


async def test_overdue_outside_max_lateness_is_missed_and_admins_told(
    db_url: str, emulator: Emulator
) -> None:
    message_id = await _stored_overdue(db_url, emulator, timedelta(hours=7))
    emulator.add_user(OTHER_ADMIN_ID)
    async with running(make_config(db_url), emulator) as herald:
        (message,) = await _messages(herald)
        actions = await _actions(herald)
    assert message.status is MessageStatus.MISSED
    assert all(_got(herald, uid) == 0 for uid in STUDENTS)
    for admin in (ADMIN_ID, OTHER_ADMIN_ID):
        notice = herald.emulator.last_bot_message(admin)["text"]
        assert notice.startswith(f"⏰ Message #{message_id}, scheduled for ")
        assert "the bot was down for longer than 6h. It is marked missed." in notice
    assert actions[-1] == "missed"


async def test_job_and_sweep_racing_send_once(herald: Harness) -> None:
    await herald.enroll(STUDENTS, "3rd_stream")
    message_id = await _schedule_directly(herald, datetime.now(UTC) - timedelta(seconds=1))
    dispatcher = herald.app.bot_data.services.dispatcher
    dispatcher.unplan(message_id)
    outcomes: list[Outcome] = []
    dispatch = dispatcher.dispatch

    async def recorded(message_id: int, *, due_only: bool) -> Outcome:
        outcome = await dispatch(message_id, due_only=due_only)
        outcomes.append(outcome)
        return outcome

    # The sweep dispatches through the same method, so every claim attempt is recorded.
    dispatcher.dispatch = recorded  # type: ignore[method-assign]
    swept = (
        await asyncio.gather(
            dispatcher.dispatch(message_id, due_only=True),
            dispatcher.sweep(),
            dispatcher.dispatch(message_id, due_only=True),
        )
    )[1]
    del dispatcher.dispatch
    await herald.deliveries_done()
    assert outcomes.count(Outcome.STARTED) == 1, outcomes
    assert len(outcomes) == 2 + len(swept)
    assert set(outcomes) == {Outcome.STARTED, Outcome.NOT_SCHEDULED}
    assert all(_got(herald, uid) == 1 for uid in STUDENTS)
    assert (await _actions(herald)).count("dispatch") == 1


async def test_sweep_sends_what_has_no_job(db_url: str, emulator: Emulator) -> None:
    async with running(make_config(db_url), emulator, sweep_interval=0.2) as herald:
        await herald.enroll(STUDENTS, "3rd_stream")
        message_id = await _schedule_directly(herald, datetime.now(UTC) + timedelta(seconds=0.3))
        herald.app.bot_data.services.dispatcher.unplan(message_id)
        await _until(lambda: all(_got(herald, uid) == 1 for uid in STUDENTS))
        await herald.deliveries_done()
    assert herald.errors == []


async def test_two_applications_on_one_database_send_once(db_url: str, emulator: Emulator) -> None:
    config = make_config(db_url)
    async with running(config, emulator) as first:
        await first.enroll(STUDENTS, "3rd_stream")
        message_id = await _schedule_directly(first, datetime.now(UTC) + timedelta(seconds=1.5))
        async with running(config, emulator) as second:
            assert second.app.bot_data.services.dispatcher.has_job(message_id)
            assert first.app.bot_data.services.dispatcher.has_job(message_id)
            await _until(lambda: all(_got(first, uid) == 1 for uid in STUDENTS))
            await asyncio.sleep(0.5)
            await first.deliveries_done()
            await second.deliveries_done()
        actions = await _actions(first)
    assert first.errors == [] and second.errors == []
    assert all(_got(first, uid) == 1 for uid in STUDENTS)
    assert actions.count("dispatch") == 1


async def test_queue_lists_previews_and_cancels(herald: Harness) -> None:
    await herald.enroll(STUDENTS, "3rd_stream")
    first = await _schedule_directly(herald, datetime.now(UTC) + timedelta(days=30))
    listing = await herald.say(ADMIN_ID, "/scheduled")
    assert listing["text"].startswith("Scheduled: 1\n\n#")
    assert f"#{first} · " in listing["text"] and "3-й поток · «Scheduled hello»" in listing["text"]
    assert [label for label, _ in buttons(listing)[0]] == [
        f"👁 #{first}",
        "▶️ Send",
        "🕒 Time",
        "✖️ Cancel",
    ]

    await herald.tap(ADMIN_ID, listing, button_data(listing, "👁"))
    assert herald.last(ADMIN_ID)["text"] == TEXT

    await herald.tap(ADMIN_ID, listing, button_data(listing, "Cancel"))
    assert listing["text"].startswith(f"Cancel message #{first}, scheduled for ")
    await herald.tap(ADMIN_ID, listing, button_data(listing, "Back"))
    assert listing["text"].startswith("Scheduled: 1")
    await herald.tap(ADMIN_ID, listing, button_data(listing, "Cancel"))
    await herald.tap(ADMIN_ID, listing, button_data(listing, "Yes, cancel it"))
    assert herald.last(ADMIN_ID)["text"] == f"Message #{first} is cancelled and will not be sent."
    shown = herald.emulator.find_message(ADMIN_ID, listing["message_id"])
    assert shown is not None and shown["text"] == "Nothing is scheduled. /send composes a message."
    assert not herald.app.bot_data.services.dispatcher.has_job(first)
    (message,) = await _messages(herald)
    assert message.status is MessageStatus.CANCELLED
    assert await _actions(herald) == ["schedule", "cancel"]


async def test_reschedule_from_the_queue(herald: Harness) -> None:
    await herald.enroll(STUDENTS, "3rd_stream")
    message_id = await _schedule_directly(herald, datetime.now(UTC) + timedelta(days=2))
    listing = await herald.say(ADMIN_ID, "/scheduled")
    await herald.tap(ADMIN_ID, listing, button_data(listing, "Time"))
    asked = herald.emulator.bot_messages(ADMIN_ID)[-2]
    assert asked["text"].startswith(f"New time for message #{message_id}, now set for ")
    reply = await herald.say(ADMIN_ID, "nonsense")
    assert reply["text"].startswith("I can't read that time.")
    await herald.say(ADMIN_ID, "+3h")
    await _press(herald, "✅ Schedule")
    assert herald.last(ADMIN_ID)["text"].startswith(f"Message #{message_id} now goes out ")
    (message,) = await _messages(herald)
    assert message.scheduled_at is not None
    assert (
        timedelta(hours=2, minutes=59)
        < message.scheduled_at - datetime.now(UTC)
        <= timedelta(hours=3)
    )
    jobs = herald.app.job_queue.get_jobs_by_name(job_name(message_id))  # type: ignore[union-attr]
    assert len(jobs) == 1 and jobs[0].next_t == message.scheduled_at
    assert await _actions(herald) == ["schedule", "reschedule"]


async def test_cancel_loses_the_race_against_dispatch(herald: Harness) -> None:
    await herald.enroll(STUDENTS, "3rd_stream")
    message_id = await _schedule_directly(herald, datetime.now(UTC) + timedelta(hours=1))
    listing = await herald.say(ADMIN_ID, "/scheduled")
    await herald.tap(ADMIN_ID, listing, button_data(listing, "Cancel"))
    await herald.app.bot_data.services.dispatcher.dispatch(message_id, due_only=False)
    await herald.tap(ADMIN_ID, listing, button_data(listing, "Yes, cancel it"))
    alert = herald.emulator.callback_answers[-1]
    assert alert["text"] == (
        f"Message #{message_id} is no longer scheduled (now: sending), so it can't be changed."
    )
    await herald.deliveries_done()
    assert all(_got(herald, uid) == 1 for uid in STUDENTS)
    (message,) = await _messages(herald)
    assert message.status is MessageStatus.DONE

    stale_time_button = QueueCb(QueueAction.RESCHEDULE, message_id).pack()
    await herald.tap(ADMIN_ID, listing, stale_time_button)
    assert herald.emulator.callback_answers[-1]["text"] == (
        f"Message #{message_id} is no longer scheduled (now: sent), so it can't be changed."
    )


async def test_send_now_from_the_queue(herald: Harness) -> None:
    await herald.enroll(STUDENTS, "3rd_stream")
    await _schedule_directly(herald, datetime.now(UTC) + timedelta(hours=5))
    listing = await herald.say(ADMIN_ID, "/scheduled")
    await herald.tap(ADMIN_ID, listing, button_data(listing, "Send"))
    assert listing["text"].startswith("Send message #")
    await herald.tap(ADMIN_ID, listing, button_data(listing, "Yes, send now"))
    await herald.deliveries_done()
    assert all(_got(herald, uid) == 1 for uid in STUDENTS)
    assert await _actions(herald) == ["schedule", "dispatch", "send"]


async def test_timezone_command(herald: Harness) -> None:
    reply = await herald.say(ADMIN_ID, "/timezone")
    assert reply["text"].startswith("Your time zone: UTC (now ")
    reply = await herald.say(ADMIN_ID, "/timezone Mars/Olympus")
    assert reply["text"] == (
        "I don't know the time zone «Mars/Olympus». Write a city such as Berlin or an IANA name "
        "such as Asia/Almaty."
    )
    reply = await herald.say(ADMIN_ID, "/timezone Asia/Almaty")
    assert reply["text"].startswith("Time zone set to Asia/Almaty; it is ")
    for city, zone in (("Berlin", "Europe/Berlin"), ("new york", "America/New_York")):
        reply = await herald.say(ADMIN_ID, f"/timezone {city}")
        assert reply["text"].startswith(f"Time zone set to {zone}; it is "), city
    reply = await herald.say(ADMIN_ID, "/timezone Asia/Almaty")
    reply = await herald.say(ADMIN_ID, "/timezone")
    assert reply["text"].startswith("Your time zone: Asia/Almaty (now ")
    assert await _actions(herald) == ["timezone"] * 4
