"""Repeating schedules end to end: set up on the Repeat screen, each occurrence an ordinary
scheduled message sent once at its wall-clock time (across daylight saving, a restart, two
processes), and Skip, Pause, Resume, Text and Stop from /scheduled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.delivery.content import Content
from bot.scheduling.dispatcher import Dispatcher
from bot.scheduling.recurrence import Frequency, Rule
from db.models import (
    AuditAction,
    AuditLog,
    MessageHistory,
    MessageKind,
    MessageStatus,
    Series,
    SeriesStatus,
)
from db.repo.audience import Selection
from tests.emulator import Emulator
from tests.harness import (
    ADMIN_ID,
    JSON,
    Harness,
    button_data,
    buttons,
    make_config,
    running,
)

BERLIN = "Europe/Berlin"
STUDENTS = [3001, 3002, 3003]
TEXT = "Weekly reminder"


class Clock:
    """A clock the test moves; the bot reads it for "now"."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@asynccontextmanager
async def _bot(db_url: str, emulator: Emulator, clock: Clock) -> AsyncIterator[Harness]:
    config = make_config(db_url, bot={"timezone": BERLIN})
    async with running(config, emulator, clock=clock) as herald:
        yield herald


def _got(herald: Harness, uid: int, text: str = TEXT) -> int:
    return sum(1 for m in herald.emulator.bot_messages(uid) if m.get("text") == text)


async def _occurrences(herald: Harness) -> list[MessageHistory]:
    async with herald.sessions() as session:
        query = select(MessageHistory).where(MessageHistory.series_id.is_not(None))
        return list(await session.scalars(query.order_by(MessageHistory.id)))


async def _series(herald: Harness) -> Series:
    async with herald.sessions() as session:
        return (await session.scalars(select(Series))).one()


async def _start_series(herald: Harness, first: datetime, rule: Rule) -> None:
    await herald.enroll(STUDENTS, "3rd_stream")
    selection = Selection(stream_ids=frozenset({herald.stream_id("3rd_stream")}))
    await herald.app.bot_data.services.dispatcher.schedule_series(
        ADMIN_ID, Content(MessageKind.TEXT, TEXT), selection, first, rule, BERLIN
    )


async def _sweep_at(herald: Harness, clock: Clock, at: datetime) -> list[int]:
    clock.at = at
    swept = await herald.app.bot_data.services.dispatcher.sweep()
    await herald.deliveries_done()
    return swept


MONDAYS_AT_9 = Rule(Frequency.WEEKLY, 9, 0, frozenset({0}), count=3)
FIRST = datetime(2026, 10, 19, 7, tzinfo=UTC)  # Monday 09:00 CEST, a week before the change


async def test_weekly_series_across_the_clock_change_sends_at_the_same_local_time(
    db_url: str, emulator: Emulator
) -> None:
    clock = Clock(FIRST - timedelta(days=1))
    async with _bot(db_url, emulator, clock) as herald:
        await _start_series(herald, FIRST, MONDAYS_AT_9)
        assert [m.scheduled_at for m in await _occurrences(herald)] == [FIRST]
        assert await _sweep_at(herald, clock, FIRST - timedelta(minutes=1)) == []
        await _sweep_at(herald, clock, FIRST + timedelta(seconds=10))
        assert all(_got(herald, uid) == 1 for uid in STUDENTS)
        second = datetime(2026, 10, 26, 8, tzinfo=UTC)  # 09:00 CET
        assert [m.scheduled_at for m in await _occurrences(herald)] == [FIRST, second]
        await _sweep_at(herald, clock, second + timedelta(seconds=10))
        third = datetime(2026, 11, 2, 8, tzinfo=UTC)
        await _sweep_at(herald, clock, third + timedelta(seconds=10))
        occurrences = await _occurrences(herald)
        series = await _series(herald)
    assert [m.scheduled_at for m in occurrences] == [FIRST, second, third]
    assert [m.status for m in occurrences] == [MessageStatus.DONE] * 3
    assert (series.made, series.status) == (3, SeriesStatus.FINISHED)
    assert all(_got(herald, uid) == 3 for uid in STUDENTS)


async def test_a_restart_between_occurrences_loses_none_and_repeats_none(
    db_url: str, emulator: Emulator
) -> None:
    clock = Clock(FIRST - timedelta(hours=1))
    async with _bot(db_url, emulator, clock) as herald:
        await _start_series(herald, FIRST, MONDAYS_AT_9)
        await _sweep_at(herald, clock, FIRST + timedelta(seconds=5))
    # Down over the second occurrence, back two hours late (within max_lateness).
    clock.at = datetime(2026, 10, 26, 10, tzinfo=UTC)
    async with _bot(db_url, emulator, clock) as herald:
        await herald.deliveries_done()
        occurrences = await _occurrences(herald)
    assert [m.status for m in occurrences] == [
        MessageStatus.DONE,
        MessageStatus.DONE,
        MessageStatus.SCHEDULED,
    ]
    assert occurrences[2].scheduled_at == datetime(2026, 11, 2, 8, tzinfo=UTC)
    assert all(_got(herald, uid) == 2 for uid in STUDENTS)
    # Down for a month: the waiting one is missed (admins told), the next is ahead of now.
    clock.at = datetime(2026, 12, 1, 12, tzinfo=UTC)
    async with _bot(db_url, emulator, clock) as herald:
        await herald.deliveries_done()
        occurrences = await _occurrences(herald)
        series = await _series(herald)
    assert occurrences[2].status is MessageStatus.MISSED
    assert (series.status, series.made) == (SeriesStatus.FINISHED, 3)
    assert all(_got(herald, uid) == 2 for uid in STUDENTS)


async def test_two_processes_send_each_occurrence_once(db_url: str, emulator: Emulator) -> None:
    clock = Clock(FIRST - timedelta(hours=1))
    rule = Rule(Frequency.DAILY, 9, 0, count=4)
    async with _bot(db_url, emulator, clock) as first, _bot(db_url, emulator, clock) as second:
        await _start_series(first, FIRST, rule)
        for day in range(4):
            clock.at = FIRST + timedelta(days=day, seconds=5)
            await asyncio.gather(
                first.app.bot_data.services.dispatcher.sweep(),
                second.app.bot_data.services.dispatcher.sweep(),
            )
            await first.deliveries_done()
            await second.deliveries_done()
        occurrences = await _occurrences(first)
        async with first.sessions() as session:
            dispatched = (
                await session.scalars(select(AuditLog).where(AuditLog.action == "dispatch"))
            ).all()
    assert len(occurrences) == 4
    assert len({m.scheduled_at for m in occurrences}) == 4
    assert len(dispatched) == 4
    assert all(_got(first, uid) == 4 for uid in STUDENTS)


# ----- the admin's side -----------------------------------------------------------------------


def _labels(message: JSON) -> list[str]:
    return [label for row in buttons(message) for label, _ in row]


async def test_repeat_screen_then_skip_pause_resume_text_and_stop(
    db_url: str, emulator: Emulator
) -> None:
    clock = Clock(datetime(2026, 11, 30, 8, tzinfo=UTC))  # Monday 09:00 in Berlin
    async with _bot(db_url, emulator, clock) as herald:
        await herald.enroll(STUDENTS, "3rd_stream")
        await herald.say(ADMIN_ID, "/send")
        await herald.say(ADMIN_ID, TEXT)
        for label in ("Skip", "3-й поток", "Done", "Schedule"):
            await herald.press(label)
        await herald.say(ADMIN_ID, "tomorrow 18:00")
        confirm = herald.last(ADMIN_ID)
        assert "🔁 Repeat…" in _labels(confirm)
        await herald.tap(ADMIN_ID, confirm, button_data(confirm, "Repeat"))
        screen = herald.current(confirm)
        assert screen["text"].splitlines()[1] == "Repeats every week on Tue at 18:00."
        # The only ticked weekday cannot be unticked; Thursday can be added.
        await herald.tap(ADMIN_ID, screen, button_data(screen, "✅ Tue"))
        assert herald.emulator.callback_answers[-1]["text"].startswith("At least one weekday")
        await herald.tap(ADMIN_ID, screen, row_button(herald.current(confirm), 3))
        screen = herald.current(confirm)
        assert screen["text"].splitlines()[1] == "Repeats every week on Tue, Thu at 18:00."
        await herald.say(ADMIN_ID, "soon")
        assert herald.last(ADMIN_ID)["text"].startswith("Type a number of times")
        await herald.say(ADMIN_ID, "1.1.2020")
        assert herald.last(ADMIN_ID)["text"] == "That date has passed: type a later one."
        screen = await herald.say(ADMIN_ID, "4")
        assert screen["text"].splitlines()[1] == "Repeats every week on Tue, Thu at 18:00, 4 times."
        await herald.tap(ADMIN_ID, screen, button_data(screen, "Schedule the series"))
        done = herald.current(screen)
        assert done["text"].startswith("🔁 Series #1 scheduled: every week on Tue, Thu at 18:00")

        listing = await herald.say(ADMIN_ID, "/scheduled")
        lines = listing["text"].splitlines()
        assert lines[0] == "🔁 Repeating: 1"
        assert lines[2].startswith("🔁 Series #1: every week on Tue, Thu at 18:00, 4 times")
        assert "🔁 #1 · " in listing["text"]
        assert _labels(listing)[:4] == ["⏭ Skip", "⏸ Pause", "✏️ Text", "⏹ Stop"]

        await herald.tap(ADMIN_ID, listing, button_data(listing, "Skip"))
        occurrences = await _occurrences(herald)
        assert [m.status for m in occurrences] == [MessageStatus.CANCELLED, MessageStatus.SCHEDULED]
        assert occurrences[1].scheduled_at == datetime(2026, 12, 3, 17, tzinfo=UTC)  # Thursday

        shown = herald.current(listing)
        await herald.tap(ADMIN_ID, shown, button_data(shown, "Pause"))
        shown = herald.current(listing)
        assert "Next: paused" in shown["text"]
        assert [m.status for m in await _occurrences(herald)][-1] is MessageStatus.CANCELLED
        await herald.tap(ADMIN_ID, shown, button_data(shown, "Resume"))
        shown = herald.current(listing)
        assert "⏸ Pause" in _labels(shown)
        # The paused Thursday comes back; the skipped Tuesday does not.
        assert [m.status for m in await _occurrences(herald)] == [
            MessageStatus.CANCELLED,
            MessageStatus.SCHEDULED,
        ]

        await herald.tap(ADMIN_ID, shown, button_data(shown, "Text"))
        assert herald.last(ADMIN_ID)["text"].startswith("✏️ New text for series #1")
        await herald.say(ADMIN_ID, "/stats")
        assert herald.last(ADMIN_ID)["text"].startswith("You are changing the text of series #1")
        await herald.say(ADMIN_ID, "Reminder, v2")
        assert herald.last(ADMIN_ID)["text"].startswith("✅ Series #1 has its new text")
        assert (await _occurrences(herald))[-1].text == "Reminder, v2"

        await herald.tap(ADMIN_ID, shown, button_data(herald.current(shown), "Stop"))
        question = herald.current(shown)
        assert question["text"].startswith("Stop series #1?")
        await herald.tap(ADMIN_ID, question, button_data(question, "Yes, stop"))
        assert (await _series(herald)).status is SeriesStatus.STOPPED
        assert herald.current(shown)["text"] == "Nothing is scheduled. /send composes a message."
        async with herald.sessions() as session:
            actions = list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    for action in ("series_skip", "series_pause", "series_resume", "series_edit", "series_stop"):
        assert action in actions


def row_button(message: JSON, index: int) -> str:
    """The callback data of the weekday button `index` (0 Monday) on the Repeat screen."""
    (weekdays,) = [row for row in buttons(message) if len(row) == 7]
    return weekdays[index][1]


# ----- regressions found by attacking the feature -------------------------------------------

MONDAY_9 = datetime(2026, 11, 30, 8, tzinfo=UTC)  # 09:00 in Berlin
DAILY_9 = Rule(Frequency.DAILY, 9, 0)


def _dispatcher(herald: Harness) -> Dispatcher:
    return herald.app.bot_data.services.dispatcher


async def test_pause_and_resume_before_the_last_occurrence_still_sends_it(
    db_url: str, emulator: Emulator
) -> None:
    clock = Clock(MONDAY_9 - timedelta(hours=1))
    async with _bot(db_url, emulator, clock) as herald:
        await _start_series(herald, MONDAY_9, Rule(Frequency.DAILY, 9, 0, count=2))
        await _sweep_at(herald, clock, MONDAY_9 + timedelta(seconds=5))
        clock.at = MONDAY_9 + timedelta(hours=2)
        series_id = (await _series(herald)).id
        assert await _dispatcher(herald).series_action(
            series_id, AuditAction.SERIES_PAUSE, ADMIN_ID
        )
        assert await _dispatcher(herald).series_action(
            series_id, AuditAction.SERIES_RESUME, ADMIN_ID
        )
        await _sweep_at(herald, clock, MONDAY_9 + timedelta(days=1, seconds=5))
        assert all(_got(herald, uid) == 2 for uid in STUDENTS)
        assert (await _series(herald)).status is SeriesStatus.FINISHED


async def test_an_occurrence_cancelled_in_the_queue_stays_cancelled_after_a_resume(
    db_url: str, emulator: Emulator
) -> None:
    clock = Clock(MONDAY_9 - timedelta(hours=1))
    async with _bot(db_url, emulator, clock) as herald:
        await _start_series(herald, MONDAY_9, DAILY_9)
        first = (await _occurrences(herald))[0]
        assert await _dispatcher(herald).cancel(first.id, ADMIN_ID) is None
        series_id = (await _series(herald)).id
        for action in (AuditAction.SERIES_PAUSE, AuditAction.SERIES_RESUME):
            assert await _dispatcher(herald).series_action(series_id, action, ADMIN_ID)
        occurrences = await _occurrences(herald)
    assert [m.status for m in occurrences] == [MessageStatus.CANCELLED, MessageStatus.SCHEDULED]
    assert occurrences[1].scheduled_at == MONDAY_9 + timedelta(days=1)


async def test_send_now_then_pause_and_resume_goes_on_from_the_next_day(
    db_url: str, emulator: Emulator
) -> None:
    clock = Clock(MONDAY_9 - timedelta(hours=3))
    async with _bot(db_url, emulator, clock) as herald:
        await _start_series(herald, MONDAY_9, DAILY_9)
        first = (await _occurrences(herald))[0]
        assert await _dispatcher(herald).send_now(first.id, ADMIN_ID) is None
        await herald.deliveries_done()
        series_id = (await _series(herald)).id
        for action in (AuditAction.SERIES_PAUSE, AuditAction.SERIES_RESUME):
            assert await _dispatcher(herald).series_action(series_id, action, ADMIN_ID)
        occurrences = await _occurrences(herald)
    assert [(m.status, m.scheduled_at) for m in occurrences] == [
        (MessageStatus.DONE, MONDAY_9),
        (MessageStatus.SCHEDULED, MONDAY_9 + timedelta(days=1)),
    ]


async def test_moving_an_occurrence_does_not_move_the_series(
    db_url: str, emulator: Emulator
) -> None:
    clock = Clock(MONDAY_9 - timedelta(hours=3))
    async with _bot(db_url, emulator, clock) as herald:
        await _start_series(herald, MONDAY_9, DAILY_9)
        first = (await _occurrences(herald))[0]
        earlier = MONDAY_9 - timedelta(hours=1)
        assert await _dispatcher(herald).reschedule(first.id, earlier, ADMIN_ID) is None
        await _sweep_at(herald, clock, earlier + timedelta(seconds=5))
        await _sweep_at(herald, clock, MONDAY_9 + timedelta(seconds=5))
        occurrences = await _occurrences(herald)
    assert all(_got(herald, uid) == 1 for uid in STUDENTS)
    assert occurrences[-1].scheduled_at == MONDAY_9 + timedelta(days=1)


async def test_skip_acts_once_and_only_on_the_occurrence_the_admin_saw(
    db_url: str, emulator: Emulator
) -> None:
    clock = Clock(MONDAY_9 - timedelta(hours=3))
    async with _bot(db_url, emulator, clock) as herald:
        await _start_series(herald, MONDAY_9, DAILY_9)
        listing = await herald.say(ADMIN_ID, "/scheduled")
        skip = button_data(listing, "Skip")
        await herald.tap(ADMIN_ID, listing, skip)
        await herald.tap(ADMIN_ID, listing, skip)  # a double tap
        assert [m.status for m in await _occurrences(herald)].count(MessageStatus.CANCELLED) == 1
        assert herald.emulator.callback_answers[-1]["text"].startswith("This series has ended")
        listing = await herald.say(ADMIN_ID, "/scheduled")
        await _sweep_at(herald, clock, MONDAY_9 + timedelta(days=1, seconds=5))  # went out
        await herald.tap(ADMIN_ID, listing, button_data(listing, "Skip"))  # an old screen
        statuses = [m.status for m in await _occurrences(herald)]
    assert statuses == [MessageStatus.CANCELLED, MessageStatus.DONE, MessageStatus.SCHEDULED]


async def test_a_weekly_series_starts_on_its_first_ticked_day(
    db_url: str, emulator: Emulator
) -> None:
    clock = Clock(MONDAY_9 - timedelta(hours=3))
    async with _bot(db_url, emulator, clock) as herald:
        # The time chosen was Monday; Monday was unticked, Thursday ticked.
        await _start_series(herald, MONDAY_9, Rule(Frequency.WEEKLY, 9, 0, frozenset({3})))
        (first,) = await _occurrences(herald)
    assert first.scheduled_at == MONDAY_9 + timedelta(days=3)


async def test_many_series_are_paged_in_scheduled(db_url: str, emulator: Emulator) -> None:
    clock = Clock(MONDAY_9 - timedelta(hours=3))
    async with _bot(db_url, emulator, clock) as herald:
        await herald.enroll(STUDENTS, "3rd_stream")
        selection = Selection(stream_ids=frozenset({herald.stream_id("3rd_stream")}))
        for n in range(30):
            await _dispatcher(herald).schedule_series(
                ADMIN_ID,
                Content(MessageKind.TEXT, f"Reminder number {n} " + "x" * 80),
                selection,
                MONDAY_9 + timedelta(minutes=n),
                Rule(Frequency.WEEKLY, 9, n, frozenset({0, 2, 4}), count=100),
                BERLIN,
            )
        listing = await herald.say(ADMIN_ID, "/scheduled")
        assert listing["text"].splitlines()[0] == "🔁 Repeating: 30"
        assert len(listing["text"]) <= 4096
        assert sum(len(row) for row in buttons(listing)) <= 100
        pager = [label for row in buttons(listing) for label, _ in row if "/" in label]
        assert pager == ["1/8"]
