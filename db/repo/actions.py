"""Edits, deletions and pins of a sent broadcast for everyone: each is a message row of its own
(`action`, `parent_id`) whose recipient rows are the copies it changes, so the delivery engine
runs it exactly like a send (lease, claim, ledger, resume, retry)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import (
    ActionKind,
    DeliveryStatus,
    MessageHistory,
    MessageRecipient,
    MessageStatus,
    User,
)

FINISHED = (MessageStatus.DONE, MessageStatus.STOPPED, MessageStatus.FAILED)
"""A broadcast in these states has copies in people's chats that actions may change."""


async def lock(session: AsyncSession, message_id: int) -> None:
    """Take the broadcast's row for this transaction: two admins starting an action at once
    are served one after the other (a write first, so SQLite queues instead of failing)."""
    m = MessageHistory
    await session.execute(update(m).where(m.id == message_id).values(parent_id=m.parent_id))


async def of(session: AsyncSession, parent_id: int) -> list[MessageHistory]:
    """Every action run on a broadcast, oldest first."""
    m = MessageHistory
    query = select(m).where(m.parent_id == parent_id).order_by(m.id)
    return list((await session.scalars(query)).all())


def _deleted(parent_id: int) -> ColumnElement[bool]:
    """True for a recipient row whose person's copy of the broadcast was deleted for everyone."""
    r = MessageRecipient
    gone = aliased(MessageRecipient)
    m = MessageHistory
    return exists(
        select(gone.user_id)
        .join(m, m.id == gone.message_id)
        .where(
            m.parent_id == parent_id,
            m.action == ActionKind.DELETE,
            gone.user_id == r.user_id,
            gone.status == DeliveryStatus.SENT,
        )
    )


def _copies(parent_id: int) -> ColumnElement[bool]:
    """The broadcast's delivered copies not deleted for everyone since."""
    r = MessageRecipient
    return and_(
        r.message_id == parent_id,
        r.status == DeliveryStatus.SENT,
        r.telegram_message_id.is_not(None),
        ~_deleted(parent_id),
    )


async def still_there(session: AsyncSession, parent_id: int, run_id: int) -> int:
    """Copies a run reached that have not been deleted for everyone since (what is pinned)."""
    r = MessageRecipient
    query = (
        select(func.count())
        .select_from(r)
        .where(r.message_id == run_id, r.status == DeliveryStatus.SENT, ~_deleted(parent_id))
    )
    return (await session.scalar(query)) or 0


async def reach(session: AsyncSession, parent_id: int) -> int:
    """How many copies an action started now would change."""
    query = select(func.count()).select_from(MessageRecipient).where(_copies(parent_id))
    return (await session.scalar(query)) or 0


async def last_sent(session: AsyncSession, parent_id: int) -> datetime | None:
    """When the newest copy arrived (Telegram's 48-hour deletion window counts from there)."""
    r = MessageRecipient
    return await session.scalar(
        select(func.max(r.sent_at)).where(
            r.message_id == parent_id, r.status == DeliveryStatus.SENT
        )
    )


async def create(session: AsyncSession, action: MessageHistory, parent_id: int) -> int:
    """Store `action` (filled in by the caller) with one pending row per copy it changes, each
    carrying the Telegram message id to act on; returns how many."""
    session.add(action)
    await session.flush()
    r = MessageRecipient
    chosen = (
        select(
            literal(action.id),
            r.user_id,
            r.username,
            literal(DeliveryStatus.PENDING.value),
            r.telegram_message_id,
        )
        .where(_copies(parent_id))
        .order_by(r.user_id)
    )
    await session.execute(
        insert(MessageRecipient).from_select(
            ["message_id", "user_id", "username", "status", "telegram_message_id"], chosen
        )
    )
    total = await session.scalar(
        select(func.count()).where(MessageRecipient.message_id == action.id)
    )
    action.total = total or 0
    return action.total


async def targets_from(
    session: AsyncSession, action_id: int, user_id: int, limit: int
) -> list[tuple[int, int]]:
    """(person, Telegram message id) of an action's copies from `user_id` on, in id order."""
    r = MessageRecipient
    query = (
        select(r.user_id, r.telegram_message_id)
        .where(
            r.message_id == action_id,
            r.user_id >= user_id,
            r.telegram_message_id.is_not(None),
        )
        .order_by(r.user_id)
        .limit(limit)
    )
    return [(u, t) for u, t in (await session.execute(query)).all() if t is not None]


async def first_owner(session: AsyncSession, parent_id: int) -> User | None:
    """The person whose copy comes first (a personalised edit's preview shows theirs)."""
    r = MessageRecipient
    query = select(func.min(r.user_id)).where(_copies(parent_id))
    user_id = await session.scalar(query)
    return await session.get(User, user_id) if user_id is not None else None
