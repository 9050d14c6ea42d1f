"""Per-admin settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
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


async def remember(
    session: AsyncSession, admin_id: int, name: str, app_language: str | None, now: datetime
) -> None:
    """Keep the admin's current Telegram name (for history and the audit log) and their app's
    language (for what Herald sends them before they write, after a restart)."""
    setting = await session.get(AdminSetting, admin_id)
    if setting is None:
        session.add(
            AdminSetting(admin_id=admin_id, name=name, app_language=app_language, updated_at=now)
        )
        return
    if setting.name != name:
        setting.name = name
        setting.updated_at = now
    if app_language is not None and setting.app_language != app_language:
        setting.app_language = app_language
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


async def languages(session: AsyncSession) -> tuple[dict[int, str], dict[int, str]]:
    """The languages admins chose with /language, and those of their Telegram apps."""
    query = select(AdminSetting.admin_id, AdminSetting.language, AdminSetting.app_language)
    rows = (await session.execute(query)).all()
    return {r[0]: r[1] for r in rows if r[1]}, {r[0]: r[2] for r in rows if r[2]}


async def set_language(
    session: AsyncSession, admin_id: int, language: str | None, now: datetime
) -> None:
    """The admin's own choice; None follows their Telegram app again."""
    setting = await _setting(session, admin_id, now)
    setting.language = language
    setting.updated_at = now


async def draft_opened(
    session: AsyncSession, admin_id: int, started: datetime | None, now: datetime
) -> None:
    """When the admin's draft began, or None once it is stored, cancelled or given notice of."""
    setting = await _setting(session, admin_id, now)
    setting.draft_started_at = started


async def draft_started(session: AsyncSession, admin_id: int) -> datetime | None:
    """When the draft open in the last process began (None: there was none)."""
    setting = await session.get(AdminSetting, admin_id)
    return setting.draft_started_at if setting is not None else None
