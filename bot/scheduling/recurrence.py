"""Repeating schedules: a rule (every day, every week on chosen weekdays, every month on a day,
at a wall-clock time in a zone, until a date or N times) and its next occurrence. Pure code; the
zone arithmetic goes through the one zones module, so daylight saving keeps the wall clock."""

from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from bot.scheduling.zones import Fold, to_local, to_utc

MAX_COUNT = 1000
MAX_AHEAD = timedelta(days=2 * 366)
"""The furthest an end date may be: two years."""
_SEARCH_DAYS = 62
"""Days looked at for the next occurrence: any rule has one within two months."""


class Frequency(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class Rule:
    """When a series repeats. `weekdays` (0 Monday .. 6 Sunday) for weekly; `monthday` for
    monthly (a shorter month uses its last day); `until` is the last local date an occurrence
    may fall on, `count` how many there are in all."""

    frequency: Frequency
    hour: int
    minute: int
    weekdays: frozenset[int] = field(default_factory=frozenset)
    monthday: int = 1
    until: date | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.hour < 24 and 0 <= self.minute < 60 and 1 <= self.monthday <= 31):
            raise ValueError("time or day out of range")
        if self.frequency is Frequency.WEEKLY and not self.weekdays:
            raise ValueError("a weekly rule needs a weekday")
        if not self.weekdays <= frozenset(range(7)):
            raise ValueError("weekday out of range")
        if self.count is not None and not 1 <= self.count <= MAX_COUNT:
            raise ValueError("count out of range")

    def matches(self, day: date) -> bool:
        if self.frequency is Frequency.DAILY:
            return True
        if self.frequency is Frequency.WEEKLY:
            return day.weekday() in self.weekdays
        last = calendar.monthrange(day.year, day.month)[1]
        return day.day == min(self.monthday, last)

    def with_end(self, until: date | None, count: int | None) -> Rule:
        return replace(self, until=until, count=count)

    def to_json(self) -> dict[str, Any]:
        return {
            "frequency": self.frequency.value,
            "hour": self.hour,
            "minute": self.minute,
            "weekdays": sorted(self.weekdays),
            "monthday": self.monthday,
            "until": self.until.isoformat() if self.until else None,
            "count": self.count,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rule:
        until = data.get("until")
        return cls(
            Frequency(data["frequency"]),
            int(data["hour"]),
            int(data["minute"]),
            frozenset(int(d) for d in data.get("weekdays", [])),
            int(data.get("monthday", 1)),
            date.fromisoformat(until) if until else None,
            data.get("count"),
        )


def starting_at(frequency: Frequency, first: datetime, zone: str) -> Rule:
    """The rule an admin means by "repeat" after choosing the first time: that time of day,
    on that weekday (weekly) or that day of the month (monthly)."""
    local = to_local(first, zone)
    return Rule(
        frequency,
        local.hour,
        local.minute,
        frozenset({local.weekday()}) if frequency is Frequency.WEEKLY else frozenset(),
        local.day,
    )


def place(day: date, rule: Rule, zone: str) -> datetime:
    """The rule's wall-clock time on `day` in `zone`, as UTC. A time the clocks skip (spring
    forward) becomes the time they show an hour later; one that happens twice, the first."""
    local = datetime(day.year, day.month, day.day, rule.hour, rule.minute)
    placed = to_utc(local, zone)
    if placed.fold is Fold.MISSING:
        placed = to_utc(local + timedelta(hours=1), zone)
    assert placed.utc is not None
    return placed.utc


def next_after(rule: Rule, zone: str, after: datetime, made: int = 0) -> datetime | None:
    """The first occurrence strictly after `after` (aware); None once `made` reached the count
    or the next one would fall after `until`."""
    if rule.count is not None and made >= rule.count:
        return None
    start = to_local(after, zone).date() - timedelta(days=1)
    for offset in range(_SEARCH_DAYS):
        day = start + timedelta(days=offset)
        if rule.until is not None and day > rule.until:
            return None
        if rule.matches(day):
            instant = place(day, rule, zone)
            if instant > after:
                return instant
    raise AssertionError(f"no occurrence within {_SEARCH_DAYS} days: {rule}")


class EndError(ValueError):
    """A typed end that cannot be used; `problem` names the text that says why."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


_COUNT = re.compile(r"[0-9]{1,4}")
_DOTTED = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})(?:\.([0-9]{4}))?")
_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


def parse_end(text: str, today: date) -> int | date:
    """`10` (times in all) or a last date: `31.12`, `31.12.2026`, `2026-12-31`."""
    typed = text.strip()
    if _COUNT.fullmatch(typed):
        count = int(typed)
        if not 1 <= count <= MAX_COUNT:
            raise EndError("count")
        return count
    dotted, iso = _DOTTED.fullmatch(typed), _ISO.fullmatch(typed)
    try:
        if dotted:
            day, month, year = dotted.groups()
            found = date(int(year) if year else today.year, int(month), int(day))
            if year is None and found < today:
                found = date(today.year + 1, found.month, found.day)
        elif iso:
            found = date(*(int(part) for part in iso.groups()))
        else:
            raise EndError("unreadable")
    except ValueError as exc:
        if isinstance(exc, EndError):
            raise
        raise EndError("unreadable") from None
    if found < today:
        raise EndError("past")
    if found > today + MAX_AHEAD:
        raise EndError("far")
    return found
