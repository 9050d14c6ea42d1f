"""Course streams and their membership counts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Stream, User


@dataclass(frozen=True, slots=True)
class StreamCount:
    stream: Stream
    members: int
    blocked: int
    not_started: int = 0

    @property
    def reachable(self) -> int:
        return self.members - self.blocked - self.not_started


async def by_code(session: AsyncSession, code: str) -> Stream | None:
    return await session.scalar(select(Stream).where(Stream.code == code))


async def ensure(session: AsyncSession, items: list[tuple[str, str]]) -> None:
    """Create configured streams that are missing; existing ones keep their admin-made changes."""
    existing = set((await session.scalars(select(Stream.code))).all())
    next_order = (await session.scalar(select(func.max(Stream.sort_order)))) or 0
    for code, title in items:
        if code in existing:
            continue
        next_order += 1
        session.add(Stream(code=code, title=title, sort_order=next_order))
        existing.add(code)
    await session.flush()


async def listed(session: AsyncSession, include_archived: bool = False) -> list[Stream]:
    """Streams in display order, without counting anyone (cheap)."""
    query = select(Stream).order_by(Stream.sort_order, Stream.id)
    if not include_archived:
        query = query.where(Stream.archived.is_(False))
    return list((await session.scalars(query)).all())


async def with_counts(session: AsyncSession, include_archived: bool = False) -> list[StreamCount]:
    """Every stream with its members and how many of them blocked the bot, in display order."""
    members = func.count(User.id)
    blocked = func.count(User.id).filter(User.is_blocked.is_(True))
    not_started = func.count(User.id).filter(User.is_blocked.is_(False), User.started_at.is_(None))
    query = (
        select(Stream, members, blocked, not_started)
        .outerjoin(User, User.stream_id == Stream.id)
        .group_by(Stream.id)
        .order_by(Stream.sort_order, Stream.id)
    )
    if not include_archived:
        query = query.where(Stream.archived.is_(False))
    rows = (await session.execute(query)).all()
    return [StreamCount(row[0], row[1], row[2], row[3]) for row in rows]


async def count_without_stream(session: AsyncSession) -> tuple[int, int]:
    """People in no stream, and how many of them blocked the bot."""
    query = select(
        func.count(User.id), func.count(User.id).filter(User.is_blocked.is_(True))
    ).where(User.stream_id.is_(None))
    row = (await session.execute(query)).one()
    return row[0], row[1]


async def member_count(session: AsyncSession, stream_id: int) -> int:
    return (
        await session.scalar(select(func.count(User.id)).where(User.stream_id == stream_id))
    ) or 0


async def get(session: AsyncSession, stream_id: int) -> Stream | None:
    return await session.get(Stream, stream_id)


async def create(session: AsyncSession, code: str, title: str) -> Stream:
    """A new stream at the end of the list."""
    last = (await session.scalar(select(func.max(Stream.sort_order)))) or 0
    stream = Stream(code=code, title=title, sort_order=last + 1)
    session.add(stream)
    await session.flush()
    return stream
