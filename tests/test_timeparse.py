"""Reading typed times: examples, and properties over a zone with daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.scheduling.timeparse import (
    MAX_AHEAD,
    Problem,
    TimeError,
    parse_duration,
    parse_when,
    quick_choices,
)
from bot.scheduling.zones import to_local

NOW = datetime(2026, 11, 28, 21, 45, tzinfo=UTC)  # 00:45 on the 29th in Moscow
MOSCOW = "Europe/Moscow"
BERLIN = "Europe/Berlin"


def _local(text: str, zone: str = MOSCOW, now: datetime = NOW) -> str:
    return to_local(parse_when(text, now, zone).utc, zone).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18:30", "2026-11-29 18:30"),
        ("00:30", "2026-11-30 00:30"),
        ("9.05", "2026-11-29 09:05"),
        ("tomorrow 9:00", "2026-11-30 09:00"),
        ("Завтра 9:00", "2026-11-30 09:00"),
        ("today 23:59", "2026-11-29 23:59"),
        ("сегодня 18:00", "2026-11-29 18:00"),
        ("1.12 18:00", "2026-12-01 18:00"),
        ("28.11 10:00", "2027-11-28 10:00"),
        ("01.12.2026 18:00", "2026-12-01 18:00"),
        ("2026-12-01 18:00", "2026-12-01 18:00"),
        ("  2026-12-01   18:00 ", "2026-12-01 18:00"),
        ("+90m", "2026-11-29 02:15"),
        ("+2h", "2026-11-29 02:45"),
        ("+1d", "2026-11-30 00:45"),
        ("+1h 30m", "2026-11-29 02:15"),
        ("+2ч", "2026-11-29 02:45"),
    ],
)
def test_examples(text: str, expected: str) -> None:
    assert _local(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("whenever", Problem.UNREADABLE),
        ("yesterday 10:00", Problem.UNREADABLE),
        ("25:00", Problem.BAD_TIME),
        ("tomorrow 18:61", Problem.BAD_TIME),
        ("+99999999999999999999d", Problem.TOO_FAR),
        ("0001-01-01 00:00", Problem.PAST),
        ("9999-12-31 23:59", Problem.TOO_FAR),
        ("31.02 10:00", Problem.NO_SUCH_DATE),
        ("2026-13-01 10:00", Problem.NO_SUCH_DATE),
        ("+0m", Problem.UNREADABLE),
        ("+", Problem.UNREADABLE),
        ("today 00:10", Problem.PAST),
        ("2026-11-28 10:00", Problem.PAST),
        ("2028-01-01 10:00", Problem.TOO_FAR),
        ("+400d", Problem.TOO_FAR),
    ],
)
def test_refusals(text: str, problem: Problem) -> None:
    with pytest.raises(TimeError) as info:
        parse_when(text, NOW, MOSCOW)
    assert info.value.problem is problem


def test_spring_gap_is_refused_with_the_local_time() -> None:
    with pytest.raises(TimeError) as info:
        parse_when("2027-03-28 02:30", NOW, BERLIN)
    assert info.value.problem is Problem.MISSING
    assert info.value.local == datetime(2027, 3, 28, 2, 30)


def test_autumn_overlap_takes_the_first_and_says_so() -> None:
    reading = parse_when("2027-10-31 02:30", NOW, BERLIN)
    assert reading.ambiguous
    assert reading.utc == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert to_local(reading.utc, BERLIN).tzname() == "CEST"


def test_durations() -> None:
    assert parse_duration("6h") == timedelta(hours=6)
    assert parse_duration("1d2h") == timedelta(days=1, hours=2)
    assert parse_duration("soon") is None


def test_quick_choices_only_ahead() -> None:
    evening = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # 19:00 in Moscow
    assert [i for i, _ in quick_choices(evening, MOSCOW)] == [0, 2, 3]
    morning = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)  # 08:00 in Moscow
    assert [i for i, _ in quick_choices(morning, MOSCOW)] == [0, 1, 2, 3]


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
zones = st.sampled_from([BERLIN, "America/New_York", MOSCOW, "Australia/Lord_Howe", "UTC"])


@given(
    now=instants,
    zone=zones,
    ahead=st.timedeltas(min_value=timedelta(minutes=2), max_value=MAX_AHEAD - timedelta(days=1)),
)
def test_round_trip_local_utc_local(now: datetime, zone: str, ahead: timedelta) -> None:
    target_local = to_local(now + ahead, zone).replace(tzinfo=None, second=0, microsecond=0)
    text = target_local.strftime("%Y-%m-%d %H:%M")
    try:
        reading = parse_when(text, now, zone)
    except TimeError as error:
        assert error.problem is Problem.PAST, error
        return
    assert to_local(reading.utc, zone).replace(tzinfo=None) == target_local


@given(
    now=instants,
    zone=zones,
    text=st.one_of(
        st.from_regex(r"[0-2]?[0-9]:[0-5][0-9]", fullmatch=True),
        st.from_regex(r"(today|tomorrow|завтра) [0-2]?[0-9]:[0-5][0-9]", fullmatch=True),
        st.from_regex(r"[0-3]?[0-9]\.[01]?[0-9] [0-2]?[0-9]:[0-5][0-9]", fullmatch=True),
        st.from_regex(r"\+[0-9]{1,4}[mhd]", fullmatch=True),
    ),
)
def test_never_in_the_past_nor_beyond_a_year(now: datetime, zone: str, text: str) -> None:
    try:
        reading = parse_when(text, now, zone)
    except TimeError:
        return
    assert now < reading.utc <= now + MAX_AHEAD


@given(
    day=st.dates(min_value=date(2027, 1, 1), max_value=date(2027, 11, 27)),
    minute=st.integers(0, 24 * 60 - 1),
)
def test_every_wall_time_is_placed_missing_or_doubled_in_berlin(day: date, minute: int) -> None:
    local = datetime.combine(day, time()) + timedelta(minutes=minute)
    text = local.strftime("%Y-%m-%d %H:%M")
    try:
        reading = parse_when(text, NOW, BERLIN)
    except TimeError as error:
        assert error.problem in (Problem.MISSING, Problem.TOO_FAR)
        if error.problem is Problem.MISSING:
            assert (local.month, local.hour) == (3, 2)
        return
    back = to_local(reading.utc, BERLIN)
    assert back.replace(tzinfo=None) == local
    if reading.ambiguous:
        assert (local.month, local.hour) == (10, 2) and back.tzname() == "CEST"


@given(now=instants, zone=zones, text=st.text(max_size=40))
def test_any_text_is_read_or_refused_with_a_reason(now: datetime, zone: str, text: str) -> None:
    try:
        reading = parse_when(text, now, zone)
    except TimeError:
        return
    assert now < reading.utc <= now + MAX_AHEAD
