"""Times as an admin reads them: their own zone first, UTC beside it."""

from __future__ import annotations

from datetime import UTC, datetime

from babel.dates import format_datetime

from bot.scheduling.zones import to_local
from bot.texts import Texts

_FULL = "EEE d MMM, HH:mm"


def local_time(instant: datetime, zone: str, texts: Texts) -> str:
    """`Tue 1 Dec, 18:00 MSK`, in the catalog's language."""
    local = to_local(instant, zone)
    return f"{format_datetime(local, _FULL, locale=texts.language)} {local.tzname()}"


def when(instant: datetime, zone: str, texts: Texts) -> str:
    """`Tue 1 Dec, 18:00 MSK (15:00 UTC)`; the UTC part names its day when that differs."""
    local = to_local(instant, zone)
    utc = instant.astimezone(UTC)
    if zone == "UTC" or local.utcoffset() == utc.utcoffset():
        return local_time(instant, zone, texts)
    utc_format = "HH:mm" if local.date() == utc.date() else _FULL
    utc_text = f"{format_datetime(utc, utc_format, locale=texts.language)} UTC"
    return texts.when_format.format(local=local_time(instant, zone, texts), utc=utc_text)


def clock(instant: datetime, zone: str, texts: Texts) -> str:
    """`21:45 MSK`: the admin's wall clock now."""
    local = to_local(instant, zone)
    return f"{format_datetime(local, 'HH:mm', locale=texts.language)} {local.tzname()}"
