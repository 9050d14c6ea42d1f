"""Sent and queued messages, newest first, filtered the way the seed's dashboard filters them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import BROADCAST, MessageHistory, MessageTarget, RecipientType


@dataclass(frozen=True)
class HistoryFilter:
    """`kind`: recipient type or None for all; `target`: a `message_targets` value or None;
    `failed`: only messages that did not reach someone."""

    kind: RecipientType | None = None
    target: str | None = None
    failed: bool = False

    def condition(self) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = [BROADCAST]
        if self.failed:
            m = MessageHistory
            parts.append(m.failed + m.blocked + m.unconfirmed > 0)
        if self.kind is not None:
            parts.append(MessageHistory.recipient_type == self.kind)
        if self.target is not None:
            addressed = select(MessageTarget.message_id).where(MessageTarget.target == self.target)
            parts.append(MessageHistory.id.in_(addressed))
        return and_(*parts)


async def page(
    session: AsyncSession, where: HistoryFilter, limit: int, offset: int
) -> tuple[list[MessageHistory], int]:
    """One page of messages, newest first, and how many match in all (counters, no joins)."""
    condition = where.condition()
    total = (await session.scalar(select(func.count(MessageHistory.id)).where(condition))) or 0
    query = (
        select(MessageHistory)
        .where(condition)
        .order_by(MessageHistory.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await session.scalars(query)).all()), total
