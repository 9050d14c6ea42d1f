"""The audit log: who did what, to what, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
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


async def latest(session: AsyncSession, limit: int = 20) -> list[AuditLog]:
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())
