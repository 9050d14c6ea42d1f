"""Students' messages to the bot and where they show in admins' chats."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import BROADCAST, InboxCopy, InboxMessage, MessageHistory, MessageRecipient


async def add(session: AsyncSession, message: InboxMessage) -> InboxMessage:
    session.add(message)
    await session.flush()
    return message


async def has_open(session: AsyncSession, user_id: int) -> bool:
    i = InboxMessage
    found = await session.scalar(select(i.id).where(i.user_id == user_id, i.open).limit(1))
    return found is not None


async def add_copies(
    session: AsyncSession, inbox_id: int, admin_id: int, chat_message_ids: list[int]
) -> None:
    if chat_message_ids:
        await session.execute(
            insert(InboxCopy),
            [
                {"admin_id": admin_id, "chat_message_id": m, "inbox_id": inbox_id}
                for m in chat_message_ids
            ],
        )


async def by_copy(
    session: AsyncSession, admin_id: int, chat_message_id: int
) -> InboxMessage | None:
    """The student's message shown as `chat_message_id` in this admin's chat, if it is one."""
    query = (
        select(InboxMessage)
        .join(InboxCopy, InboxCopy.inbox_id == InboxMessage.id)
        .where(InboxCopy.admin_id == admin_id, InboxCopy.chat_message_id == chat_message_id)
    )
    return (await session.scalars(query)).first()


async def answered_broadcast(session: AsyncSession, user_id: int, telegram_id: int) -> int | None:
    """The broadcast whose copy in this person's chat has this Telegram message id."""
    r = MessageRecipient
    query = (
        select(r.message_id)
        .join(MessageHistory, MessageHistory.id == r.message_id)
        .where(r.user_id == user_id, r.telegram_message_id == telegram_id, BROADCAST)
    )
    return (await session.scalars(query)).first()


@dataclass(frozen=True)
class Thread:
    user_id: int
    unanswered: int
    last_at: datetime


async def open_threads(
    session: AsyncSession, limit: int, offset: int
) -> tuple[list[Thread], int, int]:
    """Students with open messages, newest first: a page (with each one's unanswered count),
    how many students, and how many open messages have no answer yet."""
    i = InboxMessage
    last = func.max(i.received_at)
    unanswered = func.count(case((i.answered_at.is_(None), 1)))
    query = (
        select(i.user_id, unanswered, last)
        .where(i.open)
        .group_by(i.user_id)
        .order_by(last.desc(), i.user_id)
        .limit(limit)
        .offset(offset)
    )
    page = [Thread(u, n, at) for u, n, at in (await session.execute(query)).all()]
    threads = await session.scalar(select(func.count(func.distinct(i.user_id))).where(i.open))
    messages = await session.scalar(
        select(func.count()).select_from(i).where(i.open, i.answered_at.is_(None))
    )
    return page, threads or 0, messages or 0


async def latest(session: AsyncSession, user_id: int, limit: int) -> list[InboxMessage]:
    """A student's latest messages, newest first."""
    i = InboxMessage
    query = select(i).where(i.user_id == user_id).order_by(i.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


async def close(
    session: AsyncSession, user_id: int, admin_id: int, now: datetime, answered: bool
) -> int:
    """Close a student's open messages (answered, or marked done); returns how many."""
    i = InboxMessage
    values: dict[str, object] = {"open": False, "closed_at": now, "closed_by": admin_id}
    if answered:
        values["answered_at"] = now
    result = await session.execute(update(i).where(i.user_id == user_id, i.open).values(values))
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_answered(session: AsyncSession, user_id: int, now: datetime) -> None:
    """A reply went to the student: their open messages without an answer count as answered
    (ones closed by Done before stay out of the time-to-answer figures)."""
    i = InboxMessage
    await session.execute(
        update(i)
        .where(i.user_id == user_id, i.open, i.answered_at.is_(None))
        .values(answered_at=now)
    )


@dataclass(frozen=True)
class Replies:
    received: int
    answered: int
    median_seconds: float | None


async def replies(session: AsyncSession, since: datetime | None) -> Replies:
    """Students' messages received in the period, how many got an answer, and how fast."""
    i = InboxMessage
    where = [i.received_at >= since] if since is not None else []
    rows = (await session.execute(select(i.received_at, i.answered_at).where(*where))).all()
    waits = [(a - r).total_seconds() for r, a in rows if a is not None]
    return Replies(len(rows), len(waits), statistics.median(waits) if waits else None)
