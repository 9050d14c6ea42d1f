"""Each recipient's values for a personalised message."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.readahead import ReadAhead
from db.models import User, full_name
from db.repo import users


def values_of(person: User, stream: str | None, no_stream: str) -> dict[str, str]:
    """What each placeholder becomes for one person; the README states the fallbacks."""
    first = person.first_name or ""
    return {
        "first_name": first,
        "last_name": person.last_name or "",
        "full_name": full_name(first, person.last_name) or first,
        "username": f"@{person.username}" if person.username else first,
        "stream": stream or no_stream,
    }


class Recipients:
    """A run's recipients' placeholder values, read ahead as sending reaches them."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], message_id: int, no_stream: str
    ) -> None:
        async def load(user_id: int, limit: int) -> list[tuple[int, dict[str, str]]]:
            async with sessions() as session:
                rows = await users.recipients_from(session, message_id, user_id, limit)
            return [(person.id, values_of(person, stream, no_stream)) for person, stream in rows]

        def missing(user_id: int) -> dict[str, str]:
            return values_of(User(id=user_id), None, no_stream)

        self.values = ReadAhead(load, missing).get
