"""Per-admin settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AdminSetting, utcnow


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


async def remember_name(session: AsyncSession, admin_id: int, name: str, now: datetime) -> None:
    """Keep the admin's current Telegram name for history and the audit log."""
    setting = await session.get(AdminSetting, admin_id)
    if setting is None:
        session.add(AdminSetting(admin_id=admin_id, name=name, updated_at=now))
    elif setting.name != name:
        setting.name = name
        setting.updated_at = now


async def names(session: AsyncSession) -> dict[int, str]:
    rows = (await session.execute(select(AdminSetting.admin_id, AdminSetting.name))).all()
    return {row[0]: row[1] for row in rows if row[1]}


async def _setting(session: AsyncSession, admin_id: int, now: datetime) -> AdminSetting:
    setting = await session.get(AdminSetting, admin_id)
    if setting is None:
        setting = AdminSetting(admin_id=admin_id, updated_at=now)
        session.add(setting)
    return setting


async def languages(session: AsyncSession) -> dict[int, str]:
    """The languages admins chose with /language."""
    query = select(AdminSetting.admin_id, AdminSetting.language)
    return {row[0]: row[1] for row in (await session.execute(query)).all() if row[1]}


async def set_language(
    session: AsyncSession, admin_id: int, language: str | None, now: datetime
) -> None:
    setting = await _setting(session, admin_id, now)
    setting.language = language
    setting.updated_at = now


async def draft_opened(session: AsyncSession, admin_id: int, now: datetime | None) -> None:
    """When the admin's draft began, or None once it is sent, cancelled or given notice of."""
    setting = await _setting(session, admin_id, now or utcnow())
    setting.draft_started_at = now


async def draft_started(session: AsyncSession, admin_id: int) -> datetime | None:
    setting = await session.get(AdminSetting, admin_id)
    return setting.draft_started_at if setting is not None else None
