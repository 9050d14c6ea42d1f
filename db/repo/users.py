"""People who started the bot: registration, contact refresh and blocking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User, search_text


@dataclass(frozen=True, slots=True)
class Imported:
    """One person from an import file; None names leave what is stored alone."""

    id: int
    stream_id: int | None
    username: str | None
    first_name: str | None
    last_name: str | None


@dataclass(frozen=True, slots=True)
class Contact:
    """What Telegram tells us about a person on each update."""

    id: int
    username: str | None
    first_name: str
    last_name: str | None
    language_code: str | None


async def touch(session: AsyncSession, contact: Contact, now: datetime) -> User:
    """Register or refresh a person; any contact means they started and did not block the bot."""
    user = await session.get(User, contact.id)
    if user is None:
        user = User(id=contact.id, joined_at=now)
        session.add(user)
    user.username = contact.username
    user.first_name = contact.first_name
    user.last_name = contact.last_name
    user.language_code = contact.language_code
    user.search_text = search_text(contact.first_name, contact.last_name, contact.username)
    user.last_seen_at = now
    if user.started_at is None:
        user.started_at = now
    user.is_blocked = False
    user.blocked_at = None
    return user


async def set_stream(session: AsyncSession, user_id: int, stream_id: int | None) -> None:
    await session.execute(update(User).where(User.id == user_id).values(stream_id=stream_id))


async def set_blocked(
    session: AsyncSession, contact: Contact, blocked: bool, now: datetime
) -> User:
    """Record a block or unblock reported by Telegram, registering the person if new."""
    user = await touch(session, contact, now)
    if blocked:
        user.is_blocked = True
        user.blocked_at = now
    return user


async def get(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def mark_blocked(session: AsyncSession, user_ids: list[int], now: datetime) -> None:
    """Mark people blocked after a delivery learned it, keeping the first time seen."""
    if not user_ids:
        return
    await session.execute(
        update(User)
        .where(User.id.in_(user_ids), User.is_blocked.is_(False))
        .values(is_blocked=True, blocked_at=now)
    )


async def names(session: AsyncSession, user_ids: list[int]) -> dict[int, str]:
    """Display names (first and last) of the given people who are registered."""
    if not user_ids:
        return {}
    rows = (
        await session.execute(
            select(User.id, User.first_name, User.last_name).where(User.id.in_(user_ids))
        )
    ).all()
    return {row[0]: " ".join(p for p in (row[1], row[2] or "") if p) for row in rows}


_CHUNK = 900  # SQLite's bound-parameter limit is 999 on older builds
_BATCH = 5000  # rows per executemany, so a large import never holds every row's parameters


async def existing_ids(session: AsyncSession, user_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(user_ids), _CHUNK):
        chunk = user_ids[start : start + _CHUNK]
        found.update((await session.scalars(select(User.id).where(User.id.in_(chunk)))).all())
    return found


async def import_people(
    session: AsyncSession, new: list[Imported], updated: list[Imported], now: datetime
) -> None:
    """Insert new people as not started, and move or rename existing ones, in bulk."""
    for start in range(0, len(new), _BATCH):
        await session.execute(
            insert(User),
            [
                {
                    "id": p.id,
                    "stream_id": p.stream_id,
                    "username": p.username,
                    "first_name": p.first_name or "",
                    "last_name": p.last_name,
                    "search_text": search_text(p.first_name or "", p.last_name, p.username),
                    "joined_at": now,
                    "last_seen_at": now,
                    "started_at": None,
                }
                for p in new[start : start + _BATCH]
            ],
        )
    table = cast(Table, User.__table__)
    move = (
        update(table)
        .where(table.c.id == bindparam("uid"))
        .values(
            stream_id=bindparam("sid"),
            username=func.coalesce(bindparam("un"), table.c.username),
            first_name=func.coalesce(bindparam("fn"), table.c.first_name),
            last_name=func.coalesce(bindparam("ln"), table.c.last_name),
        )
    )
    for start in range(0, len(updated), _BATCH):
        await session.execute(
            move,
            [
                {
                    "uid": p.id,
                    "sid": p.stream_id,
                    "un": p.username,
                    "fn": p.first_name,
                    "ln": p.last_name,
                }
                for p in updated[start : start + _BATCH]
            ],
        )
    if updated:
        renamed = [p.id for p in updated if p.username or p.first_name or p.last_name]
        for start in range(0, len(renamed), _CHUNK):
            rows = (
                await session.execute(
                    select(User.id, User.first_name, User.last_name, User.username).where(
                        User.id.in_(renamed[start : start + _CHUNK])
                    )
                )
            ).all()
            await session.execute(
                update(table)
                .where(table.c.id == bindparam("uid"))
                .values(search_text=bindparam("st")),
                [{"uid": r[0], "st": search_text(r[1], r[2], r[3])} for r in rows],
            )
