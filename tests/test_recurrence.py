"""Repeating-schedule rules: the next occurrence keeps the wall clock across daylight saving,
lands only on the rule's days, ends on time; typed ends are read or refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.scheduling.recurrence import (
    MAX_COUNT,
    EndError,
    Frequency,
    Rule,
    next_after,
    parse_end,
    place,
    starting_at,
)
from bot.scheduling.zones import Fold, to_local, to_utc

BERLIN = "Europe/Berlin"


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_weekly_across_the_autumn_change_keeps_nine_oclock() -> None:
    rule = Rule(Frequency.WEEKLY, 9, 0, frozenset({0}))  # Mondays
    first = next_after(rule, BERLIN, _utc(2026, 10, 18, 12))
    assert first == _utc(2026, 10, 19, 7)  # 09:00 CEST
    second = next_after(rule, BERLIN, first)
    assert second == _utc(2026, 10, 26, 8)  # 09:00 CET, the day after the change
    assert to_local(second, BERLIN).hour == 9


def test_a_time_the_clocks_skip_goes_out_an_hour_later_on_that_day() -> None:
    rule = Rule(Frequency.DAILY, 2, 30)
    spring = next_after(rule, BERLIN, _utc(2027, 3, 27, 12))
    assert spring == _utc(2027, 3, 28, 1, 30)  # 03:30 CEST: 02:30 does not exist that night
    assert next_after(rule, BERLIN, spring) == _utc(2027, 3, 29, 0, 30)  # 02:30 CEST again


def test_monthly_on_the_31st_uses_the_last_day_of_short_months() -> None:
    rule = Rule(Frequency.MONTHLY, 10, 0, monthday=31)
    days = []
    at = _utc(2027, 1, 1)
    for _ in range(4):
        found = next_after(rule, "UTC", at)
        assert found is not None
        days.append(found.date())
        at = found
    assert days == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]


def test_count_and_until_end_the_series() -> None:
    rule = Rule(Frequency.DAILY, 8, 0, count=2)
    assert next_after(rule, "UTC", _utc(2027, 1, 1), made=1) == _utc(2027, 1, 1, 8)
    assert next_after(rule, "UTC", _utc(2027, 1, 1), made=2) is None
    until = Rule(Frequency.DAILY, 8, 0, until=date(2027, 1, 2))
    assert next_after(until, "UTC", _utc(2027, 1, 2, 7)) == _utc(2027, 1, 2, 8)
    assert next_after(until, "UTC", _utc(2027, 1, 2, 8)) is None


def test_starting_at_takes_the_first_times_weekday_and_day() -> None:
    first = _utc(2026, 12, 3, 17)  # Thursday, 18:00 in Berlin
    weekly = starting_at(Frequency.WEEKLY, first, BERLIN)
    assert (weekly.hour, weekly.minute, weekly.weekdays) == (18, 0, frozenset({3}))
    assert starting_at(Frequency.MONTHLY, first, BERLIN).monthday == 3


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("10", 10),
        (" 1 ", 1),
        ("31.12", date(2026, 12, 31)),
        ("1.3", date(2027, 3, 1)),  # already past this year: next year's
        ("01.03.2027", date(2027, 3, 1)),
        ("2027-03-01", date(2027, 3, 1)),
    ],
)
def test_ends_that_are_read(typed: str, expected: int | date) -> None:
    assert parse_end(typed, date(2026, 11, 29)) == expected


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("0", "count"),
        ("1001", "count"),
        ("tomorrow", "unreadable"),
        ("31.02", "unreadable"),
        ("", "unreadable"),
        ("1.1.2026", "past"),
        ("1.1.2030", "far"),
        ("²", "unreadable"),
    ],
)
def test_ends_that_are_refused(typed: str, problem: str) -> None:
    with pytest.raises(EndError) as caught:
        parse_end(typed, date(2026, 11, 29))
    assert caught.value.problem == problem


ZONES = st.sampled_from(["UTC", BERLIN, "America/New_York", "Australia/Sydney", "Asia/Kolkata"])
RULES = st.builds(
    Rule,
    frequency=st.sampled_from(list(Frequency)),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    monthday=st.integers(1, 31),
)
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@given(RULES, ZONES, INSTANTS)
def test_every_occurrence_is_later_on_a_rule_day_at_the_rule_time(
    rule: Rule, zone: str, after: datetime
) -> None:
    at = after
    for _ in range(5):
        found = next_after(rule, zone, at)
        assert found is not None and found > at
        local = to_local(found, zone)
        assert rule.matches(local.date()) or rule.matches(local.date() - timedelta(days=1))
        wanted = datetime(local.year, local.month, local.day, rule.hour, rule.minute)
        if to_utc(wanted, zone).fold is not Fold.MISSING:
            assert (local.hour, local.minute) == (rule.hour, rule.minute)
        else:
            assert found == place(local.date(), rule, zone)
        at = found


@given(RULES, ZONES, INSTANTS)
def test_nothing_is_skipped_between_occurrences(rule: Rule, zone: str, after: datetime) -> None:
    found = next_after(rule, zone, after)
    assert found is not None
    day = to_local(after, zone).date()
    while day < to_local(found, zone).date() - timedelta(days=1):
        day += timedelta(days=1)
        if rule.matches(day) and day > to_local(after, zone).date():
            assert place(day, rule, zone) <= after or place(day, rule, zone) >= found


@given(st.integers(1, MAX_COUNT))
def test_any_count_in_range_is_read(count: int) -> None:
    assert parse_end(str(count), date(2026, 11, 29)) == count


@given(st.text(max_size=12))
def test_any_text_is_read_or_refused_with_a_named_problem(text: str) -> None:
    try:
        parse_end(text, date(2026, 11, 29))
    except EndError as error:
        assert error.problem in {"count", "unreadable", "past", "far"}
