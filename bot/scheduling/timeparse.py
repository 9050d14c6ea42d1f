"""Reads the times admins type: `18:30`, `tomorrow 9:00`, `1.12 18:00`, `2026-12-01 18:00`, `+2h`.

Pure code: the current instant and the zone are arguments, so every case is testable.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.scheduling.zones import Fold, to_local, to_utc

MAX_AHEAD = timedelta(days=366)

_TIME = r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})"
_TODAY = {"today", "сегодня"}
_TOMORROW = {"tomorrow", "завтра"}
_PATTERNS = {
    "time": re.compile(rf"^{_TIME}$"),
    "word": re.compile(rf"^(?P<word>[^\W\d_]+)\s+{_TIME}$"),
    "day_month": re.compile(rf"^(?P<day>\d{{1,2}})\.(?P<month>\d{{1,2}})\s+{_TIME}$"),
    "dmy": re.compile(rf"^(?P<day>\d{{1,2}})\.(?P<month>\d{{1,2}})\.(?P<year>\d{{4}})\s+{_TIME}$"),
    "iso": re.compile(rf"^(?P<year>\d{{4}})-(?P<month>\d{{1,2}})-(?P<day>\d{{1,2}})[ T]{_TIME}$"),
}
_RELATIVE = re.compile(r"^\+\s*((?:\d+\s*[mhdмчд]\s*)+)$")
_PART = re.compile(r"(\d+)\s*([mhdмчд])")
_UNIT = {"m": "minutes", "м": "minutes", "h": "hours", "ч": "hours", "d": "days", "д": "days"}


class Problem(enum.Enum):
    UNREADABLE = "unreadable"
    BAD_TIME = "bad_time"  # 25:00, 18:61
    NO_SUCH_DATE = "no_such_date"
    PAST = "past"
    TOO_FAR = "too_far"
    MISSING = "missing"  # inside a daylight-saving gap


@dataclass(frozen=True)
class Reading:
    """What the admin's text means: the UTC instant, and whether the local time was doubled."""

    utc: datetime
    ambiguous: bool = False


@dataclass
class TimeError(Exception):
    problem: Problem
    local: datetime | None = None


def parse_duration(text: str) -> timedelta | None:
    """`90m`, `2h`, `1d`, `1h30m` (also in Russian letters); None if it is not one."""
    cleaned = text.strip().lower()
    match = _RELATIVE.match(cleaned if cleaned.startswith("+") else f"+{cleaned}")
    if not match:
        return None
    total = timedelta()
    try:
        for amount, unit in _PART.findall(match.group(1)):
            total += timedelta(**{_UNIT[unit]: int(amount)})
    except OverflowError:
        return timedelta.max
    return total


def _wall_clock(text: str, today: date, now_local: datetime) -> datetime:
    """The naive local datetime a text names; raises TimeError when it names none."""
    for kind, pattern in _PATTERNS.items():
        match = pattern.match(text)
        if not match:
            continue
        parts = match.groupdict()
        hour, minute = int(parts["hour"]), int(parts["minute"])
        if hour > 23 or minute > 59:
            raise TimeError(Problem.BAD_TIME)
        try:
            at = time(hour, minute)
            if kind == "time":
                candidate = datetime.combine(today, at)
                if candidate <= now_local:
                    candidate += timedelta(days=1)
                return candidate
            if kind == "word":
                word = parts["word"]
                if word in _TODAY:
                    return datetime.combine(today, at)
                if word in _TOMORROW:
                    return datetime.combine(today + timedelta(days=1), at)
                raise TimeError(Problem.UNREADABLE)
            if kind == "day_month":
                day = date(today.year, int(parts["month"]), int(parts["day"]))
                candidate = datetime.combine(day, at)
                if candidate <= now_local:
                    candidate = datetime.combine(date(today.year + 1, day.month, day.day), at)
                return candidate
            day = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
            return datetime.combine(day, at)
        except ValueError:
            raise TimeError(Problem.NO_SUCH_DATE) from None
    raise TimeError(Problem.UNREADABLE)


def parse_when(text: str, now: datetime, zone: str) -> Reading:
    """The instant `text` names for an admin in `zone` at UTC instant `now`."""
    cleaned = " ".join(text.strip().lower().split())
    if cleaned.startswith("+"):
        delta = parse_duration(cleaned)
        if delta is None or not delta:
            raise TimeError(Problem.UNREADABLE)
        if delta > MAX_AHEAD:
            raise TimeError(Problem.TOO_FAR)
        return _checked(Reading(now + delta), now)
    now_local = to_local(now, zone).replace(tzinfo=None)
    local = _wall_clock(cleaned, now_local.date(), now_local)
    try:
        placed = to_utc(local, zone)
    except OverflowError:
        raise TimeError(Problem.PAST if local < now_local else Problem.TOO_FAR, local) from None
    if placed.utc is None:
        raise TimeError(Problem.MISSING, local)
    return _checked(Reading(placed.utc, placed.fold is Fold.AMBIGUOUS), now, local)


def _checked(reading: Reading, now: datetime, local: datetime | None = None) -> Reading:
    if reading.utc <= now:
        raise TimeError(Problem.PAST, local)
    if reading.utc - now > MAX_AHEAD:
        raise TimeError(Problem.TOO_FAR, local)
    return reading


QUICK_CHOICES = ("+1h", "today 18:00", "tomorrow 9:00", "tomorrow 18:00")
"""The quick buttons' meanings, by index; each is offered only while it is still ahead."""


def quick_choices(now: datetime, zone: str) -> list[tuple[int, Reading]]:
    choices = []
    for index, text in enumerate(QUICK_CHOICES):
        try:
            choices.append((index, parse_when(text, now, zone)))
        except TimeError:
            continue
    return choices
