"""Telegram update ids already handled, remembered for a day."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import HandledUpdate

REMEMBERED = timedelta(days=1)
"""Telegram keeps unconfirmed updates for 24 hours, so none older can come again."""


async def remember(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Note that `update_id` is being handled; False if it was handled already."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    result = await session.execute(
        insert(HandledUpdate)
        .values(update_id=update_id, handled_at=now)
        .on_conflict_do_nothing(index_elements=[HandledUpdate.update_id])
    )
    return bool(getattr(result, "rowcount", 0))


async def forget_before(session: AsyncSession, moment: datetime) -> int:
    result = await session.execute(delete(HandledUpdate).where(HandledUpdate.handled_at < moment))
    return int(getattr(result, "rowcount", 0) or 0)
