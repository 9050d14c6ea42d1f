"""Who a recipient selection reaches: streams, people in no stream, everyone, hand-picked ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.parsing.ids import parse_user_id
from db.models import RecipientType, Stream, User

EVERYONE = "everyone"
NO_STREAM = "no_stream"


STREAM_PREFIX = "stream:"


def stream_target(stream_id: int) -> str:
    return f"{STREAM_PREFIX}{stream_id}"


@dataclass(frozen=True)
class Selection:
    """The admin's choice; stored as JSON on the message so it can be resolved again later."""

    stream_ids: frozenset[int] = frozenset()
    no_stream: bool = False
    everyone: bool = False
    user_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_empty(self) -> bool:
        return not (self.stream_ids or self.no_stream or self.everyone or self.user_ids)

    @property
    def has_groups(self) -> bool:
        return bool(self.stream_ids or self.no_stream or self.everyone)

    def to_json(self) -> dict[str, Any]:
        return {
            "streams": sorted(self.stream_ids),
            "no_stream": self.no_stream,
            "everyone": self.everyone,
            "users": sorted(self.user_ids),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Selection:
        return cls(
            stream_ids=frozenset(int(i) for i in data.get("streams", [])),
            no_stream=bool(data.get("no_stream", False)),
            everyone=bool(data.get("everyone", False)),
            user_ids=frozenset(int(i) for i in data.get("users", [])),
        )

    def targets(self) -> list[str]:
        """The groups this selection names, as stored in `message_targets`."""
        found = []
        if self.everyone:
            found.append(EVERYONE)
        if self.no_stream:
            found.append(NO_STREAM)
        found += [stream_target(i) for i in sorted(self.stream_ids)]
        return found

    def recipient_type(self) -> RecipientType:
        if self.user_ids and self.has_groups:
            return RecipientType.MIXED
        return RecipientType.INDIVIDUAL if self.user_ids else RecipientType.GROUP


def condition(selection: Selection) -> ColumnElement[bool]:
    """SQL condition on `users` that matches the selection (blocked people included)."""
    if selection.everyone:
        return true()
    parts: list[ColumnElement[bool]] = []
    if selection.stream_ids:
        parts.append(User.stream_id.in_(sorted(selection.stream_ids)))
    if selection.no_stream:
        parts.append(User.stream_id.is_(None))
    if selection.user_ids:
        parts.append(User.id.in_(sorted(selection.user_ids)))
    return or_(*parts) if parts else false()


REACHABLE = and_(User.is_blocked.is_(False), User.started_at.is_not(None))
"""Telegram lets a bot write only to people who started it and did not block it."""


@dataclass(frozen=True)
class Reach:
    reachable: int
    blocked: int
    not_started: int = 0


async def reach(session: AsyncSession, selection: Selection) -> Reach:
    """Distinct people the selection reaches, and who is left out: blocked, or never started."""
    query = select(
        func.count(User.id).filter(REACHABLE),
        func.count(User.id).filter(User.is_blocked.is_(True)),
        func.count(User.id).filter(User.is_blocked.is_(False), User.started_at.is_(None)),
    ).where(condition(selection))
    row = (await session.execute(query)).one()
    return Reach(reachable=row[0], blocked=row[1], not_started=row[2])


async def recipient_group(session: AsyncSession, selection: Selection) -> str | None:
    """The seed's `recipient_group`: the stream code when exactly one group was chosen."""
    if selection.everyone:
        return "everyone"
    if len(selection.stream_ids) == 1 and not selection.no_stream:
        (stream_id,) = selection.stream_ids
        return await session.scalar(select(Stream.code).where(Stream.id == stream_id))
    if selection.no_stream and not selection.stream_ids:
        return "no_stream"
    return None


async def search(
    session: AsyncSession, text: str, limit: int, offset: int = 0
) -> tuple[list[User], int]:
    """People matching an @username, an id, or part of a name; a page and the total."""
    needle = text.strip()
    if not needle:
        return [], 0
    user_id = parse_user_id(needle)
    if user_id is not None:
        where: ColumnElement[bool] = User.id == user_id
    else:
        pattern = f"%{_escape_like(needle.casefold())}%"
        where = User.search_text.like(pattern, escape="\\")
    total = (await session.scalar(select(func.count(User.id)).where(where))) or 0
    query = select(User).where(where).order_by(User.first_name, User.id).limit(limit).offset(offset)
    return list((await session.scalars(query)).all()), total


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def first_reachable(session: AsyncSession, selection: Selection) -> User | None:
    """The person a personalised preview is shown for: the first one the selection reaches."""
    query = select(User).where(condition(selection), REACHABLE).order_by(User.id).limit(1)
    return (await session.scalars(query)).first()
