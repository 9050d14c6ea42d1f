"""Times as an admin reads them: their own zone first, UTC beside it."""

from __future__ import annotations

from datetime import UTC, datetime

from babel.dates import format_datetime

from bot.scheduling.zones import to_local
from bot.texts import Texts

_FULL = "EEE d MMM, HH:mm"
_FULL_YEAR = "EEE d MMM y, HH:mm"


def _pattern(local: datetime, zone: str, now: datetime | None) -> str:
    """The date with its year when it is not in the current year (as `now` sees it)."""
    this_year = to_local(now or datetime.now(UTC), zone).year
    return _FULL if local.year == this_year else _FULL_YEAR


def local_time(instant: datetime, zone: str, texts: Texts, now: datetime | None = None) -> str:
    """`Tue 1 Dec, 18:00 MSK` (`Fri 1 Jan 2027, 10:00 MSK` in another year), in the
    catalog's language."""
    local = to_local(instant, zone)
    pattern = _pattern(local, zone, now)
    return f"{format_datetime(local, pattern, locale=texts.language)} {local.tzname()}"


def when(instant: datetime, zone: str, texts: Texts, now: datetime | None = None) -> str:
    """`Tue 1 Dec, 18:00 MSK (15:00 UTC)`; the UTC part names its day when that differs."""
    local = to_local(instant, zone)
    utc = instant.astimezone(UTC)
    shown = local_time(instant, zone, texts, now)
    if zone == "UTC" or local.utcoffset() == utc.utcoffset():
        return shown
    utc_format = "HH:mm" if local.date() == utc.date() else _pattern(utc, "UTC", now)
    utc_text = f"{format_datetime(utc, utc_format, locale=texts.language)} UTC"
    return texts.when_format.format(local=shown, utc=utc_text)


def clock(instant: datetime, zone: str, texts: Texts) -> str:
    """`21:45 MSK`: the admin's wall clock now."""
    local = to_local(instant, zone)
    return f"{format_datetime(local, 'HH:mm', locale=texts.language)} {local.tzname()}"
