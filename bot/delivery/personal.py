"""Each recipient's values for a personalised message, read ahead so that sending never waits
on one query per person."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import User, full_name
from db.repo import users

AHEAD = 512
"""People read per query: claims come in id order, so one read serves the next sends."""


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
    """A message's recipients' values, loaded in id order blocks as sending reaches them."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], message_id: int, no_stream: str
    ) -> None:
        self._sessions = sessions
        self._message_id = message_id
        self._no_stream = no_stream
        self._known: dict[int, dict[str, str]] = {}
        self._lock = asyncio.Lock()

    async def values(self, user_id: int) -> dict[str, str]:
        found = self._known.pop(user_id, None)
        if found is not None:
            return found
        async with self._lock:
            if user_id not in self._known:
                async with self._sessions() as session:
                    rows = await users.recipients_from(session, self._message_id, user_id, AHEAD)
                below = [k for k in self._known if k < user_id]
                for k in below:
                    del self._known[k]
                for person, stream in rows:
                    self._known[person.id] = values_of(person, stream, self._no_stream)
        return self._known.pop(user_id, values_of(User(id=user_id), None, self._no_stream))
