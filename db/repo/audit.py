"""The audit log: who did what, to what, when."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditAction, AuditLog


@dataclass(frozen=True, slots=True)
class Target:
    """What an action was done to, kept in the details so every language can name it; the
    target column gets a plain form for anyone reading the table directly."""

    message: int | None = None
    user: int | None = None
    stream: str | None = None
    was: str | None = None
    people: int | None = None
    zone: str | None = None
    language: str | None = None
    attempt: str | None = None
    now: str | None = None  # with `was`: a message's first words before and after an edit

    def plain(self) -> str | None:
        if self.message is not None:
            return f"#{self.message}"
        if self.user is not None:
            return f"user {self.user}" + (f": {self.stream}" if self.stream else "")
        if self.people is not None:
            return f"{self.people} people"
        text = self.stream or self.zone or self.language or self.attempt
        return text[:128] if text else None

    def details(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def of(cls, details: dict[str, Any]) -> Target:
        """The target kept in an entry's details (unknown keys, from other versions, ignored)."""
        known = {k: details[k] for k in cls.__dataclass_fields__ if k in details}
        return cls(**known)


async def record(
    session: AsyncSession,
    actor_id: int,
    action: AuditAction,
    now: datetime,
    target: Target | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditLog(
            actor_id=actor_id,
            action=action.value,
            target=target.plain() if target else None,
            details={**(details or {}), **(target.details() if target else {})},
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
