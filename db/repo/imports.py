"""CSV imports applied in small steps with a journal, so a failed or cut-short one is taken back.

Each chunk of people is applied in its own short transaction (other writers, such as the
delivery ledger, get the database between chunks); before a chunk changes anyone, the journal
records whether they existed and what they were. Undoing replays the journal backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ImportJournal, ImportRun, ImportStatus, User, UTCDateTime, search_text
from db.repo.users import CHUNK


@dataclass(frozen=True, slots=True)
class Imported:
    """One person from an import file; None names leave what is stored alone."""

    id: int
    stream_id: int | None
    username: str | None
    first_name: str | None
    last_name: str | None


async def begin(session: AsyncSession, key: str, actor_id: int, rows: int, now: datetime) -> None:
    """Register an import as the one being applied; IntegrityError if another one is.

    Journals hold absolute "before" values, so two imports at once could undo each other.
    """
    session.add(
        ImportRun(
            key=key,
            actor_id=actor_id,
            status=ImportStatus.APPLYING,
            active=True,
            rows=rows,
            created_at=now,
            heartbeat_at=now,
        )
    )
    await session.flush()


_NOTHING_BEFORE: dict[str, Any] = dict.fromkeys(
    ("stream_id", "username", "first_name", "last_name", "search_text")
)
_Before = tuple[int | None, str | None, str, str | None, str | None]


async def _before(session: AsyncSession, user_ids: list[int]) -> dict[int, _Before]:
    found: dict[int, _Before] = {}
    for start in range(0, len(user_ids), CHUNK):
        rows = await session.execute(
            select(
                User.id,
                User.stream_id,
                User.username,
                User.first_name,
                User.last_name,
                User.search_text,
            ).where(User.id.in_(user_ids[start : start + CHUNK]))
        )
        found.update({r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in rows})
    return found


def _users() -> Table:
    return cast(Table, User.__table__)


class TakenBack(Exception):
    """The import was declared abandoned and taken back while this process still ran it."""


async def _beat(session: AsyncSession, key: str, at: datetime, **counts: Any) -> None:
    """Prove the import is alive; fenced, so a process that lost it can change nothing more."""
    result = await session.execute(
        update(ImportRun)
        .where(ImportRun.key == key, ImportRun.status == ImportStatus.APPLYING)
        .values(heartbeat_at=at, **counts)
    )
    if not getattr(result, "rowcount", 0):
        raise TakenBack(key)


async def apply_chunk(
    session: AsyncSession, key: str, people: list[Imported], now: datetime, beat: datetime
) -> tuple[int, int]:
    """Journal, then apply, one chunk; returns (new, updated). Whether a person is new is
    decided here, so someone who started the bot since the dry run is updated, not doubled.
    `now` stamps new people; `beat` is the heartbeat."""
    await _beat(session, key, beat)
    before = await _before(session, [p.id for p in people])
    journal: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    fresh: list[dict[str, Any]] = []
    for p in people:
        old = before.get(p.id)
        entry: dict[str, Any] = {"import_key": key, "user_id": p.id, "existed": old is not None}
        if old is None:
            journal.append({**entry, **_NOTHING_BEFORE})
            fresh.append(
                {
                    "id": p.id,
                    "stream_id": p.stream_id,
                    "username": p.username,
                    "first_name": p.first_name or "",
                    "last_name": p.last_name,
                    "search_text": search_text(p.first_name or "", p.last_name, p.username),
                }
            )
            continue
        stream_id, username, first, last, text = old
        journal.append(
            {
                **entry,
                "stream_id": stream_id,
                "username": username,
                "first_name": first,
                "last_name": last,
                "search_text": text,
            }
        )
        first, last, username = p.first_name or first, p.last_name or last, p.username or username
        moves.append(
            {
                "uid": p.id,
                "sid": p.stream_id,
                "un": username,
                "fn": first,
                "ln": last,
                "st": search_text(first, last, username),
            }
        )
    await session.execute(insert(cast(Table, ImportJournal.__table__)), journal)
    if fresh:
        stamp = literal(now, UTCDateTime())
        await session.execute(insert(_users()).values(joined_at=stamp, last_seen_at=stamp), fresh)
    if moves:
        await session.execute(_restore_statement(), moves)
    await _beat(
        session,
        key,
        beat,
        new=ImportRun.new + len(fresh),
        updated=ImportRun.updated + len(moves),
    )
    return len(fresh), len(moves)


def _restore_statement() -> Any:
    table = _users()
    return (
        update(table)
        .where(table.c.id == bindparam("uid"))
        .values(
            stream_id=bindparam("sid"),
            username=bindparam("un"),
            first_name=bindparam("fn"),
            last_name=bindparam("ln"),
            search_text=bindparam("st"),
        )
    )


async def finish(session: AsyncSession, key: str, at: datetime) -> ImportRun:
    await _beat(session, key, at, status=ImportStatus.DONE, active=None)
    run = await session.get(ImportRun, key)
    assert run is not None, key
    return run


async def undo_chunk(session: AsyncSession, key: str, limit: int) -> int:
    """Take back up to `limit` journalled people; returns how many (0: nothing left).

    New people are removed unless they started the bot meanwhile (then they stay, as any
    student would); existing people get their stream and names back.
    """
    journal = cast(Table, ImportJournal.__table__)
    rows = (
        await session.execute(select(journal).where(journal.c.import_key == key).limit(limit))
    ).all()
    if not rows:
        return 0
    added = [r.user_id for r in rows if not r.existed]
    for start in range(0, len(added), CHUNK):
        await session.execute(
            delete(User).where(User.id.in_(added[start : start + CHUNK]), User.started_at.is_(None))
        )
    restore = [
        {
            "uid": r.user_id,
            "sid": r.stream_id,
            "un": r.username,
            "fn": r.first_name or "",
            "ln": r.last_name,
            "st": r.search_text or "",
        }
        for r in rows
        if r.existed
    ]
    if restore:
        await session.execute(_restore_statement(), restore)
    await _forget(session, key, [r.user_id for r in rows])
    return len(rows)


async def _forget(session: AsyncSession, key: str, user_ids: list[int]) -> None:
    for start in range(0, len(user_ids), CHUNK):
        await session.execute(
            delete(ImportJournal).where(
                ImportJournal.import_key == key,
                ImportJournal.user_id.in_(user_ids[start : start + CHUNK]),
            )
        )


async def drop_journal(session: AsyncSession, key: str, limit: int) -> int:
    """Forget up to `limit` journal rows of a finished import; returns how many."""
    user_ids = list(
        (
            await session.scalars(
                select(ImportJournal.user_id).where(ImportJournal.import_key == key).limit(limit)
            )
        ).all()
    )
    await _forget(session, key, user_ids)
    return len(user_ids)


async def claim_undo(session: AsyncSession, key: str, quiet_since: datetime | None = None) -> bool:
    """Take an applying import over for undoing, in one conditional UPDATE; True if this caller
    won. With `quiet_since`, only if its process has not been heard of since then. From here on
    the applying process is fenced out (its next heartbeat fails)."""
    statement = update(ImportRun).where(
        ImportRun.key == key, ImportRun.status == ImportStatus.APPLYING
    )
    if quiet_since is not None:
        statement = statement.where(ImportRun.heartbeat_at < quiet_since)
    result = await session.execute(statement.values(status=ImportStatus.UNDOING))
    return bool(getattr(result, "rowcount", 0))


async def status(session: AsyncSession, key: str) -> ImportStatus | None:
    return await session.scalar(select(ImportRun.status).where(ImportRun.key == key))


async def mark_undone(session: AsyncSession, key: str) -> None:
    await session.execute(
        update(ImportRun)
        .where(ImportRun.key == key)
        .values(status=ImportStatus.UNDONE, active=None)
    )


async def abandoned(session: AsyncSession, quiet_since: datetime) -> list[str]:
    """Imports whose process died: applying and quiet since `quiet_since`, or left mid-undo."""
    query = select(ImportRun.key).where(
        ((ImportRun.status == ImportStatus.APPLYING) & (ImportRun.heartbeat_at < quiet_since))
        | (ImportRun.status == ImportStatus.UNDOING)
    )
    return list((await session.scalars(query)).all())
