"""Per-admin settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AdminSetting


async def zone_for(session: AsyncSession, admin_id: int, default: str) -> str:
    """The admin's own time zone, or the configured one."""
    setting = await session.get(AdminSetting, admin_id)
    return setting.timezone if setting is not None and setting.timezone else default


async def set_zone(session: AsyncSession, admin_id: int, zone: str, now: datetime) -> None:
    setting = await session.get(AdminSetting, admin_id)
    if setting is None:
        setting = AdminSetting(admin_id=admin_id)
        session.add(setting)
    setting.timezone = zone
    setting.updated_at = now
