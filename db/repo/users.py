"""People who started the bot: registration, contact refresh and blocking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    BROADCAST,
    DeliveryStatus,
    MessageHistory,
    MessageRecipient,
    Stream,
    User,
    full_name,
    search_text,
)
from db.repo import Db


@dataclass(frozen=True, slots=True)
class Contact:
    """What Telegram tells us about a person on each update."""

    id: int
    username: str | None
    first_name: str
    last_name: str | None
    language_code: str | None


async def touch(session: AsyncSession, contact: Contact, now: datetime) -> User:
    """Register or refresh a person; any contact means they started and did not block the bot."""
    user = await session.get(User, contact.id)
    if user is None:
        user = User(id=contact.id, joined_at=now)
        session.add(user)
    user.username = contact.username
    user.first_name = contact.first_name
    user.last_name = contact.last_name
    user.language_code = contact.language_code
    user.search_text = search_text(contact.first_name, contact.last_name, contact.username)
    user.last_seen_at = now
    if user.started_at is None:
        user.started_at = now
    user.is_blocked = False
    user.blocked_at = None
    return user


async def set_stream(session: AsyncSession, user_id: int, stream_id: int | None) -> None:
    await session.execute(update(User).where(User.id == user_id).values(stream_id=stream_id))


@dataclass(frozen=True, slots=True)
class Counts:
    """The headline of the people screen."""

    registered: int
    blocked: int
    not_started: int


async def counts(session: AsyncSession) -> Counts:
    row = (
        await session.execute(
            select(
                func.count(User.id),
                func.count(User.id).filter(User.is_blocked.is_(True)),
                func.count(User.id).filter(User.is_blocked.is_(False), User.started_at.is_(None)),
            )
        )
    ).one()
    return Counts(row[0], row[1], row[2])


async def received(
    session: AsyncSession, user_id: int, latest: int
) -> tuple[int, list[tuple[MessageHistory, datetime | None]]]:
    """How many messages reached a person, and the latest few with when they arrived."""
    sent = (
        MessageRecipient.user_id == user_id,
        MessageRecipient.status == DeliveryStatus.SENT,
        MessageRecipient.message_id == MessageHistory.id,
        BROADCAST,
    )
    total = (await session.scalar(select(func.count()).where(*sent))) or 0
    rows = (
        await session.execute(
            select(MessageHistory, MessageRecipient.sent_at)
            .join(MessageRecipient, MessageRecipient.message_id == MessageHistory.id)
            .where(*sent)
            .order_by(MessageRecipient.sent_at.desc())
            .limit(latest)
        )
    ).all()
    return total, [(row[0], row[1]) for row in rows]


async def set_blocked(
    session: AsyncSession, contact: Contact, blocked: bool, now: datetime
) -> User:
    """Record a block or unblock reported by Telegram, registering the person if new."""
    user = await touch(session, contact, now)
    if blocked:
        user.is_blocked = True
        user.blocked_at = now
    return user


async def get(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def mark_blocked(session: Db, user_ids: list[int], now: datetime) -> None:
    """Mark people blocked after a delivery learned it, keeping the first time seen."""
    if not user_ids:
        return
    await session.execute(
        update(User)
        .where(User.id.in_(user_ids), User.is_blocked.is_(False))
        .values(is_blocked=True, blocked_at=now)
    )


async def names(session: AsyncSession, user_ids: list[int]) -> dict[int, str]:
    """Display names (first and last) of the given people who are registered."""
    if not user_ids:
        return {}
    rows = (
        await session.execute(
            select(User.id, User.first_name, User.last_name).where(User.id.in_(user_ids))
        )
    ).all()
    return {row[0]: full_name(row[1], row[2]) for row in rows}


CHUNK = 900
"""Ids per IN list: SQLite's bound-parameter limit is 999 on older builds."""


async def existing_ids(session: AsyncSession, user_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(user_ids), CHUNK):
        chunk = user_ids[start : start + CHUNK]
        found.update((await session.scalars(select(User.id).where(User.id.in_(chunk)))).all())
    return found


async def recipients_from(
    session: AsyncSession, message_id: int, first: int, limit: int
) -> list[tuple[User, str | None]]:
    """A message's recipients from user id `first` on, in id order, with their stream title:
    the values personalised sending reads ahead (people are claimed in id order)."""
    query = (
        select(User, Stream.title)
        .join(MessageRecipient, MessageRecipient.user_id == User.id)
        .outerjoin(Stream, Stream.id == User.stream_id)
        .where(MessageRecipient.message_id == message_id, User.id >= first)
        .order_by(User.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]
