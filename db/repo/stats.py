"""Numbers for /stats, computed from the same rows and counters /history shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, String, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    BROADCAST,
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
    """Each count reads an index of `users` (stream, blocked flag, join time), never the rows."""
    by_stream = dict(
        (await session.execute(select(User.stream_id, func.count()).group_by(User.stream_id))).all()
    )
    blocked = await session.scalar(select(func.count()).where(User.is_blocked.is_(True)))
    registered = sum(by_stream.values())
    new = registered
    if since is not None:
        new = (await session.scalar(select(func.count()).where(User.joined_at >= since))) or 0
    listed = (
        await session.execute(
            select(Stream.id, Stream.title)
            .where(Stream.archived.is_(False))
            .order_by(Stream.sort_order, Stream.id)
        )
    ).all()
    return Audience(
        registered=registered,
        blocked=blocked or 0,
        no_stream=by_stream.get(None, 0),
        new=new,
        per_stream=[(title, by_stream.get(stream_id, 0)) for stream_id, title in listed],
    )


def _sent_in(since: datetime | None) -> ColumnElement[bool]:
    started: ColumnElement[bool] = MessageHistory.started_at.is_not(None)
    if since is not None:
        started = MessageHistory.started_at >= since
    return started & MessageHistory.status.in_(SENT_STATUSES) & BROADCAST


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
    failures_query = (
        select(MessageRecipient.status, MessageRecipient.error, func.count())
        .where(MessageRecipient.status.in_(not_reached))
        .group_by(MessageRecipient.status, MessageRecipient.error)
        .order_by(func.count().desc(), MessageRecipient.status, MessageRecipient.error)
        .join(MessageHistory, MessageHistory.id == MessageRecipient.message_id)
        .where(in_period)
        .limit(limit)
    )
    failures = (await session.execute(failures_query)).all()
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
