"""Named leases shared by processes on one database: who holds a role, until when, which epoch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Lease


async def take(
    session: AsyncSession, name: str, owner: str, now: datetime, until: datetime
) -> int | None:
    """Hold `name` until `until` if it is free or its holder's time ran out; the new epoch, or
    None while someone else holds it. One conditional UPDATE decides (the row comes with the
    schema)."""
    result = await session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.until < now, Lease.owner == owner))
        .values(owner=owner, epoch=Lease.epoch + 1, until=until)
    )
    if not getattr(result, "rowcount", 0):
        return None
    return await session.scalar(select(Lease.epoch).where(Lease.name == name))


async def renew(session: AsyncSession, name: str, owner: str, epoch: int, until: datetime) -> bool:
    """Extend a lease this process holds; False if it has been taken over meanwhile."""
    result = await session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.owner == owner, Lease.epoch == epoch)
        .values(until=until)
    )
    return bool(getattr(result, "rowcount", 0))


async def release(session: AsyncSession, name: str, owner: str, epoch: int, now: datetime) -> None:
    """Give a lease up at once (a clean stop), so a standby need not wait for it to run out."""
    await session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.owner == owner, Lease.epoch == epoch)
        .values(until=now)
    )
