"""The audit log: who did what, to what, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditAction, AuditLog


async def record(
    session: AsyncSession,
    actor_id: int,
    action: AuditAction,
    now: datetime,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditLog(
            actor_id=actor_id,
            action=action.value,
            target=target,
            details=details or {},
            created_at=now,
        )
    )


async def page(
    session: AsyncSession, actor_id: int | None, limit: int, offset: int
) -> tuple[list[AuditLog], int]:
    """Newest first, optionally one actor's; one page and the total."""
    where = AuditLog.actor_id == actor_id if actor_id is not None else true()
    total = (await session.scalar(select(func.count(AuditLog.id)).where(where))) or 0
    query = select(AuditLog).where(where).order_by(AuditLog.id.desc()).limit(limit).offset(offset)
    return list((await session.scalars(query)).all()), total
