"""Everyone as a CSV document: the same columns an import reads, plus status and times."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Stream, User

COLUMNS = [
    "user_id",
    "stream",
    "username",
    "first_name",
    "last_name",
    "status",
    "joined_at",
    "last_seen_at",
]


def status_of(is_blocked: bool, started: bool) -> str:
    if is_blocked:
        return "blocked"
    return "active" if started else "not_started"


async def export_people(session: AsyncSession) -> tuple[bytes, int]:
    """The CSV (UTF-8 with BOM, so spreadsheets open it right) and how many people it holds."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
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
    count = 0
    result = await session.stream(query)
    async for part in result.partitions(5000):
        for uid, code, username, first, last, blocked, started, joined, seen in part:
            writer.writerow(
                [
                    uid,
                    code or "",
                    username or "",
                    first,
                    last or "",
                    status_of(blocked, started is not None),
                    joined.isoformat(),
                    seen.isoformat(),
                ]
            )
            count += 1
    return buffer.getvalue().encode("utf-8-sig"), count
