"""Numbers for /stats, computed from the same rows and counters /history shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, String, cast, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    DeliveryStatus,
    MessageHistory,
    MessageRecipient,
    MessageStatus,
    MessageTarget,
    Stream,
    User,
)
from db.repo.audience import STREAM_PREFIX

_STREAM_PREFIX = literal(STREAM_PREFIX)

SENT_STATUSES = (
    MessageStatus.SENDING,
    MessageStatus.DONE,
    MessageStatus.STOPPED,
    MessageStatus.FAILED,
)


@dataclass(frozen=True)
class Audience:
    registered: int
    blocked: int
    no_stream: int
    new: int
    per_stream: list[tuple[str, int]]


@dataclass(frozen=True)
class Messaging:
    messages: int
    recipients: int
    delivered: int
    failed: int
    blocked: int
    unconfirmed: int
    cancelled: int
    upcoming: int
    failures: list[tuple[DeliveryStatus, str, int]]
    per_stream: list[tuple[str, int, int]]


async def audience(session: AsyncSession, since: datetime | None) -> Audience:
    new_since = User.joined_at >= since if since is not None else true()
    row = (
        await session.execute(
            select(
                func.count(User.id),
                func.count(User.id).filter(User.is_blocked.is_(True)),
                func.count(User.id).filter(User.stream_id.is_(None)),
                func.count(User.id).filter(new_since),
            )
        )
    ).one()
    per_stream = (
        await session.execute(
            select(Stream.title, func.count(User.id))
            .outerjoin(User, User.stream_id == Stream.id)
            .where(Stream.archived.is_(False))
            .group_by(Stream.id)
            .order_by(Stream.sort_order, Stream.id)
        )
    ).all()
    return Audience(row[0], row[1], row[2], row[3], [(r[0], r[1]) for r in per_stream])


def _sent_in(since: datetime | None) -> ColumnElement[bool]:
    started: ColumnElement[bool] = MessageHistory.started_at.is_not(None)
    if since is not None:
        started = MessageHistory.started_at >= since
    return started & MessageHistory.status.in_(SENT_STATUSES)


async def messaging(session: AsyncSession, since: datetime | None, limit: int = 5) -> Messaging:
    """Messages that started going out in the period, summed from their counters."""
    in_period = _sent_in(since)
    totals = (
        await session.execute(
            select(
                func.count(MessageHistory.id),
                func.coalesce(func.sum(MessageHistory.total), 0),
                func.coalesce(func.sum(MessageHistory.delivered), 0),
                func.coalesce(func.sum(MessageHistory.failed), 0),
                func.coalesce(func.sum(MessageHistory.blocked), 0),
                func.coalesce(func.sum(MessageHistory.unconfirmed), 0),
                func.coalesce(func.sum(MessageHistory.cancelled), 0),
            ).where(in_period)
        )
    ).one()
    upcoming = (
        await session.scalar(
            select(func.count(MessageHistory.id)).where(
                MessageHistory.status == MessageStatus.SCHEDULED
            )
        )
    ) or 0
    not_reached = [DeliveryStatus.FAILED, DeliveryStatus.BLOCKED, DeliveryStatus.UNCONFIRMED]
    failures = (
        await session.execute(
            select(MessageRecipient.status, MessageRecipient.error, func.count())
            .join(MessageHistory, MessageHistory.id == MessageRecipient.message_id)
            .where(MessageRecipient.status.in_(not_reached), in_period)
            .group_by(MessageRecipient.status, MessageRecipient.error)
            .order_by(func.count().desc(), MessageRecipient.status, MessageRecipient.error)
            .limit(limit)
        )
    ).all()
    per_stream = (
        await session.execute(
            select(
                Stream.title,
                func.coalesce(func.sum(MessageHistory.delivered), 0),
                func.coalesce(func.sum(MessageHistory.total), 0),
            )
            .join(MessageTarget, MessageTarget.target == _STREAM_PREFIX + cast(Stream.id, String))
            .join(MessageHistory, MessageHistory.id == MessageTarget.message_id)
            .where(in_period)
            .group_by(Stream.id)
            .order_by(Stream.sort_order, Stream.id)
        )
    ).all()
    return Messaging(
        messages=totals[0],
        recipients=totals[1],
        delivered=totals[2],
        failed=totals[3],
        blocked=totals[4],
        unconfirmed=totals[5],
        cancelled=totals[6],
        upcoming=upcoming,
        failures=[(DeliveryStatus(r[0]), r[1] or "", r[2]) for r in failures],
        per_stream=[(r[0], r[1], r[2]) for r in per_stream],
    )
