"""The one place that converts between an admin's wall clock and UTC (pytz)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

import pytz


class Fold(enum.Enum):
    """How a local time maps to real instants."""

    UNIQUE = "unique"
    AMBIGUOUS = "ambiguous"  # the clock goes back: it happens twice; the first is taken
    MISSING = "missing"  # the clock jumps forward: it never happens


@dataclass(frozen=True)
class Placed:
    """A wall-clock time placed in a zone: the instant (None if missing) and how it mapped."""

    utc: datetime | None
    fold: Fold


def is_zone(name: str) -> bool:
    return name in pytz.all_timezones_set


def find_zone(name: str) -> str | None:
    """The IANA zone an admin meant: its name in any case (`europe/berlin`), or a city that
    names exactly one current zone (`Berlin`, `new york`, `Singapore` as Asia/Singapore rather
    than the old alias); None otherwise (see `zones_named` for the choice)."""
    wanted = _key(name)
    exact = next((zone for zone in pytz.all_timezones if zone.lower() == wanted), None)
    if not wanted or "/" in wanted:
        return exact
    cities = zones_named(name)
    if cities:
        return cities[0] if len(cities) == 1 else None
    if exact is not None:
        return exact  # a zone without a city part: UTC, GMT
    legacy = [z for z in pytz.all_timezones if z.lower().rsplit("/", 1)[-1] == wanted]
    return legacy[0] if len(legacy) == 1 else None  # an old spelling: Kiev


def zones_named(name: str) -> list[str]:
    """Current zones whose city part is `name` (`Berlin`, `New York`), for a choice."""
    wanted = _key(name)
    if not wanted or "/" in wanted:
        return []
    return [zone for zone in pytz.common_timezones if zone.lower().rsplit("/", 1)[-1] == wanted]


def _key(name: str) -> str:
    return "_".join(name.split()).lower()


def to_utc(local: datetime, zone: str) -> Placed:
    """A naive local wall-clock time in `zone` as an aware UTC instant."""
    tz = pytz.timezone(zone)
    try:
        return Placed(tz.localize(local, is_dst=None).astimezone(UTC), Fold.UNIQUE)
    except pytz.NonExistentTimeError:
        return Placed(None, Fold.MISSING)
    except pytz.AmbiguousTimeError:
        return Placed(tz.localize(local, is_dst=True).astimezone(UTC), Fold.AMBIGUOUS)


def to_local(instant: datetime, zone: str) -> datetime:
    """An aware instant on the wall clock of `zone` (aware, with the zone's abbreviation)."""
    return instant.astimezone(pytz.timezone(zone))
