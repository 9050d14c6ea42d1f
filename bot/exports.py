"""Every CSV Herald writes: people and a message's recipients, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import MessageRecipient, Stream, User

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""Spreadsheets run a cell that starts with one of these as a formula (OWASP's list)."""

PEOPLE_COLUMNS = [
    "user_id",
    "stream",
    "username",
    "first_name",
    "last_name",
    "status",
    "joined_at",
    "last_seen_at",
]
RECIPIENT_COLUMNS = [
    "user_id",
    "username",
    "first_name",
    "last_name",
    "status",
    "telegram_message_id",
    "sent_at",
    "error",
]
_PART = 5000


def safe_cell(value: str | int | None) -> str | int:
    """Text that a spreadsheet would run as a formula gets a leading `'`; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeCsv:
    """A CSV document built row by row; every cell goes through `safe_cell`."""

    def __init__(self, header: list[str]) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)
        self._writer.writerow(header)
        self.rows = 0

    def add(self, cells: Iterable[str | int | None]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in cells])
        self.rows += 1

    def content(self) -> bytes:
        """UTF-8 with a BOM, so spreadsheets pick the right encoding."""
        return self._buffer.getvalue().encode("utf-8-sig")


def status_of(is_blocked: bool, started: bool) -> str:
    if is_blocked:
        return "blocked"
    return "active" if started else "not_started"


async def export_people(session: AsyncSession) -> tuple[bytes, int]:
    """Everyone, with the columns an import reads plus status and times; and how many."""
    document = SafeCsv(PEOPLE_COLUMNS)
    query = (
        select(
            User.id,
            Stream.code,
            User.username,
            User.first_name,
            User.last_name,
            User.is_blocked,
            User.started_at,
            User.joined_at,
            User.last_seen_at,
        )
        .outerjoin(Stream, Stream.id == User.stream_id)
        .order_by(User.id)
    )
    result = await session.stream(query)
    async for part in result.partitions(_PART):
        for uid, code, username, first, last, blocked, started, joined, seen in part:
            document.add(
                [
                    uid,
                    code,
                    username,
                    first,
                    last,
                    status_of(blocked, started is not None),
                    joined.isoformat(),
                    seen.isoformat(),
                ]
            )
    return document.content(), document.rows


async def export_recipients(session: AsyncSession, message_id: int) -> tuple[bytes, int]:
    """Every recipient of one message with name, status, Telegram message id, time and error."""
    document = SafeCsv(RECIPIENT_COLUMNS)
    r = MessageRecipient
    query = (
        select(
            r.user_id,
            r.username,
            User.first_name,
            User.last_name,
            r.status,
            r.telegram_message_id,
            r.sent_at,
            r.error,
        )
        .outerjoin(User, User.id == r.user_id)
        .where(r.message_id == message_id)
        .order_by(r.user_id)
    )
    result = await session.stream(query)
    async for part in result.partitions(_PART):
        for user_id, username, first, last, status, telegram_id, sent_at, error in part:
            document.add(
                [
                    user_id,
                    username,
                    first,
                    last,
                    status.value,
                    telegram_id,
                    sent_at.isoformat() if sent_at else None,
                    error,
                ]
            )
    return document.content(), document.rows
