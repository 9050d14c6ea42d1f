"""The delivery ledger: a message row, one row per recipient, and counters kept in step."""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    COUNTER_OF,
    DeliveryStatus,
    MessageHistory,
    MessageRecipient,
    MessageStatus,
    MessageTarget,
    User,
    UTCDateTime,
)
from db.repo import Db
from db.repo.audience import REACHABLE, Selection, condition


@dataclass(frozen=True)
class Outcome:
    """What happened to one recipient in one attempt."""

    user_id: int
    status: DeliveryStatus
    telegram_message_id: int | None = None
    error: str | None = None
    sent_at: datetime | None = None


async def get(session: AsyncSession, message_id: int) -> MessageHistory | None:
    return await session.get(MessageHistory, message_id)


async def many(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, MessageHistory]:
    if not message_ids:
        return {}
    query = select(MessageHistory).where(MessageHistory.id.in_(message_ids))
    return {m.id: m for m in (await session.scalars(query)).all()}


async def create(session: AsyncSession, message: MessageHistory) -> MessageHistory:
    """Add a message row and give it its id."""
    session.add(message)
    await session.flush()
    return message


async def add_targets(session: AsyncSession, message_id: int, targets: Sequence[str]) -> None:
    """Record the groups a message is addressed to, for the history filters."""
    if targets:
        await session.execute(
            insert(MessageTarget), [{"message_id": message_id, "target": t} for t in targets]
        )


async def add_recipients(session: AsyncSession, message_id: int, selection: Selection) -> int:
    """Write one pending row per reachable person in one statement; returns how many."""
    chosen = (
        select(literal(message_id), User.id, User.username, literal(DeliveryStatus.PENDING.value))
        .where(and_(condition(selection), REACHABLE))
        .order_by(User.id)
    )
    statement = insert(MessageRecipient).from_select(
        ["message_id", "user_id", "username", "status"], chosen
    )
    await session.execute(statement)
    total = await session.scalar(
        select(func.count()).where(MessageRecipient.message_id == message_id)
    )
    await session.execute(
        update(MessageHistory).where(MessageHistory.id == message_id).values(total=total or 0)
    )
    return total or 0


async def pending_after(
    session: Db, message_id: int, after_user_id: int, limit: int
) -> tuple[list[int], int | None]:
    """The pending recipients among the next `limit` above `after_user_id`, in id order, and
    where the next read starts (None: there is nobody after these).

    Reading claims nobody (the ledger write's watermark does). It walks the primary key with
    no status condition: with one, PostgreSQL without fresh statistics picks the
    (message_id, status) index and visits every pending row on each read of a large send.
    """
    r = MessageRecipient
    rows = (
        await session.execute(
            select(r.user_id, r.status)
            .where(r.message_id == message_id, r.user_id > after_user_id)
            .order_by(r.user_id)
            .limit(limit)
        )
    ).all()
    pending = [user_id for user_id, status in rows if status is DeliveryStatus.PENDING]
    return pending, (rows[-1][0] if len(rows) == limit else None)


async def take_lease(
    session: AsyncSession, message_id: int, owner: str, now: datetime, until: datetime
) -> int | None:
    """Become the one process that sends this message, if nobody holds it or its holder's lease
    ran out; returns the new epoch that every later ledger write must carry, or None."""
    m = MessageHistory
    result = await session.execute(
        update(m)
        .where(
            m.id == message_id,
            m.status == MessageStatus.SENDING,
            or_(m.lease_until.is_(None), m.lease_until < now),
        )
        .values(lease_owner=owner, lease_epoch=m.lease_epoch + 1, lease_until=until)
    )
    if not getattr(result, "rowcount", 0):
        return None
    return await session.scalar(select(m.lease_epoch).where(m.id == message_id))


async def set_progress(
    session: AsyncSession, message_id: int, chat_id: int, progress_id: int | None, now: datetime
) -> None:
    """Where the run reports, and when sending first started."""
    m = MessageHistory
    await session.execute(
        update(m)
        .where(m.id == message_id)
        .values(
            progress_chat_id=chat_id,
            progress_message_id=progress_id,
            started_at=func.coalesce(m.started_at, now),
        )
    )


async def finish(
    session: AsyncSession,
    message_id: int,
    epoch: int,
    status: MessageStatus,
    now: datetime,
    resumed_in_doubt: int | None = None,
) -> bool:
    """Close a run: its final status, claim and lease dropped, and for a run that took over an
    interrupted one how many it found in doubt; False if it was taken over itself."""
    m = MessageHistory
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "claimed_upto": 0,
        "lease_until": None,
    }
    if resumed_in_doubt is not None:
        values["resumed_in_doubt"] = resumed_in_doubt
    result = await session.execute(
        update(m).where(m.id == message_id, m.lease_epoch == epoch).values(**values)
    )
    return bool(getattr(result, "rowcount", 0))


async def release_lease(session: AsyncSession, message_id: int, epoch: int) -> None:
    """Let the message go at once (a clean stop), so the next process need not wait it out."""
    m = MessageHistory
    await session.execute(
        update(m).where(m.id == message_id, m.lease_epoch == epoch).values(lease_until=None)
    )


async def orphaned(session: AsyncSession, now: datetime) -> list[MessageHistory]:
    """Messages being sent by nobody: their sender stopped without finishing or renewing."""
    m = MessageHistory
    query = select(m).where(
        m.status == MessageStatus.SENDING, or_(m.lease_until.is_(None), m.lease_until < now)
    )
    return list((await session.scalars(query.order_by(m.id))).all())


async def release_claim(session: AsyncSession, message_id: int) -> None:
    """Forget the claim watermark: every pending person below it was never tried."""
    await session.execute(
        update(MessageHistory).where(MessageHistory.id == message_id).values(claimed_upto=0)
    )


async def _bump(session: AsyncSession, message_id: int, counts: Counter[DeliveryStatus]) -> None:
    values: dict[str, Any] = {}
    for status, n in counts.items():
        column = COUNTER_OF.get(status)
        if column and n:
            values[column] = getattr(MessageHistory, column) + n
    if values:
        await session.execute(
            update(MessageHistory).where(MessageHistory.id == message_id).values(**values)
        )


class Written(enum.Enum):
    APPLIED = "applied"
    ALREADY = "already"
    """This very write committed before; its answer was lost (a cancel, a dropped connection)."""
    FENCED = "fenced"
    """Another process holds the message's lease now."""


_M = MessageHistory
_COUNTERS = tuple(COUNTER_OF.values())
_WRITE = (
    update(_M)
    .where(
        _M.id == bindparam("m_id"),
        _M.lease_epoch == bindparam("epoch"),
        _M.ledger_seq == bindparam("seq"),
    )
    .values(
        lease_until=bindparam("until", type_=UTCDateTime),
        ledger_seq=bindparam("seq") + 1,
        claimed_upto=bindparam("upto", type_=BigInteger),
        **{name: getattr(_M, name) + bindparam(name, type_=Integer) for name in _COUNTERS},
    )
)


async def write_ledger(
    session: Db,
    message_id: int,
    epoch: int,
    seq: int,
    until: datetime,
    outcomes: Sequence[Outcome],
    claimed_upto: int,
) -> Written:
    """One ledger write of a run: renew its lease to `until`, store `outcomes` and move the
    counters by them, and claim everyone pending up to `claimed_upto`.

    It is a compare-and-set on the message row (lease epoch and write number `seq`), taken
    before any recipient row, in the order a takeover takes them. So a fenced run writes
    nothing, and a write repeated after its commit is recognised instead of counted twice.
    """
    counts = Counter(o.status for o in outcomes)
    params: dict[str, Any] = {
        "m_id": message_id,
        "epoch": epoch,
        "seq": seq,
        "until": until,
        "upto": claimed_upto,
    }
    for status, name in COUNTER_OF.items():
        params[name] = counts[status]
    result = await session.execute(_WRITE, params)
    if not getattr(result, "rowcount", 0):
        row = (
            await session.execute(select(_M.lease_epoch, _M.ledger_seq).where(_M.id == message_id))
        ).one_or_none()
        if row is not None and tuple(row) == (epoch, seq + 1):
            return Written.ALREADY
        return Written.FENCED
    await _record(session, message_id, outcomes)
    return Written.APPLIED


_RECORD = {
    "sqlite": text(
        """
        WITH v(u, st, tg, err, at) AS MATERIALIZED (
            SELECT json_extract(value, '$.u'), json_extract(value, '$.st'),
                json_extract(value, '$.tg'), json_extract(value, '$.err'),
                json_extract(value, '$.at')
            FROM json_each(:rows)
        )
        UPDATE message_recipients SET status = v.st, attempts = attempts + 1,
            telegram_message_id = coalesce(v.tg, telegram_message_id),
            error = v.err, sent_at = v.at
        FROM v
        WHERE message_recipients.message_id = :m AND message_recipients.user_id = v.u
        """
    ),
    "postgresql": text(
        """
        UPDATE message_recipients AS r SET status = v.st, attempts = r.attempts + 1,
            telegram_message_id = coalesce(v.tg, r.telegram_message_id),
            error = v.err, sent_at = v.at
        FROM jsonb_to_recordset(CAST(:rows AS jsonb))
            AS v(u bigint, st varchar, tg bigint, err varchar, at timestamp)
        WHERE r.message_id = :m AND r.user_id = v.u
        """
    ),
}
"""Outcomes in one statement whatever their number, the rows passed as one JSON parameter.

Not an executemany: SQLite's driver gives up the GIL around every row of one and waits to get
it back while the event loop is busy sending (a hundred outcomes took 100 ms), and binding
typed parameters per row cost more CPU than the send itself on both backends. A failure keeps
the copy an action's row acts on (`coalesce`); the materialised CTE makes SQLite look rows up
by the primary key. Needs SQLite 3.35."""


def _dialect(db: Db) -> str:
    bind = db.get_bind() if isinstance(db, AsyncSession) else db
    return bind.dialect.name


def _stamp(moment: datetime | None) -> str | None:
    """A UTC time as both backends read it back into the columns' naive UTC."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", timespec="microseconds")


async def _record(session: Db, message_id: int, outcomes: Sequence[Outcome]) -> None:
    if not outcomes:
        return
    rows = json.dumps(
        [
            {
                "u": o.user_id,
                "st": o.status.value,
                "tg": o.telegram_message_id,
                "err": o.error[:512].replace("\x00", "") if o.error else None,
                "at": _stamp(o.sent_at),
            }
            for o in outcomes
        ]
    )
    await session.execute(_RECORD[_dialect(session)], {"rows": rows, "m": message_id})


async def _move_all(
    session: AsyncSession,
    message_id: int,
    source: Sequence[DeliveryStatus],
    target: DeliveryStatus,
    error: str | None = None,
    up_to_user_id: int | None = None,
) -> Counter[DeliveryStatus]:
    """Move every recipient in `source` states to `target`, keeping the counters right."""
    where = and_(MessageRecipient.message_id == message_id, MessageRecipient.status.in_(source))
    if up_to_user_id is not None:
        where = and_(where, MessageRecipient.user_id <= up_to_user_id)
    rows = (
        await session.execute(
            select(MessageRecipient.status, func.count())
            .where(where)
            .group_by(MessageRecipient.status)
        )
    ).all()
    moved: Counter[DeliveryStatus] = Counter({DeliveryStatus(s): n for s, n in rows})
    if not moved:
        return moved
    values: dict[str, Any] = {"status": target}
    if error is not None:
        values["error"] = error
    await session.execute(update(MessageRecipient).where(where).values(**values))
    removed: dict[str, Any] = {}
    for status, n in moved.items():
        column = COUNTER_OF.get(status)
        if column:
            removed[column] = getattr(MessageHistory, column) - n
    if removed:
        await session.execute(
            update(MessageHistory).where(MessageHistory.id == message_id).values(**removed)
        )
    await _bump(session, message_id, Counter({target: sum(moved.values())}))
    return moved


async def cancel_rest(session: AsyncSession, message_id: int) -> int:
    """Mark everyone not reached yet as cancelled (Stop); returns how many."""
    moved = await _move_all(session, message_id, [DeliveryStatus.PENDING], DeliveryStatus.CANCELLED)
    return sum(moved.values())


async def in_flight_to_unconfirmed(session: AsyncSession, message_id: int, note: str) -> int:
    """After a crash, claimed people without an outcome are unconfirmed, never re-sent."""
    message = await session.get(MessageHistory, message_id)
    if message is None or not message.claimed_upto:
        return 0
    moved = await _move_all(
        session,
        message_id,
        [DeliveryStatus.PENDING],
        DeliveryStatus.UNCONFIRMED,
        error=note,
        up_to_user_id=message.claimed_upto,
    )
    message.claimed_upto = 0
    return sum(moved.values())


async def requeue(
    session: AsyncSession, message_id: int, statuses: Sequence[DeliveryStatus]
) -> int:
    """Put recipients in `statuses` back in the queue; sent people are never touched."""
    assert DeliveryStatus.SENT not in statuses
    moved = await _move_all(session, message_id, statuses, DeliveryStatus.PENDING)
    return sum(moved.values())


async def set_status(
    session: AsyncSession,
    message_id: int,
    status: MessageStatus,
    *,
    expected: Sequence[MessageStatus] | None = None,
    **values: Any,
) -> bool:
    """Change a message's status, optionally only from `expected` ones; True if it changed."""
    statement = update(MessageHistory).where(MessageHistory.id == message_id)
    if expected is not None:
        statement = statement.where(MessageHistory.status.in_(expected))
    result = await session.execute(statement.values(status=status, **values))
    return bool(getattr(result, "rowcount", 0))


async def in_status(session: AsyncSession, status: MessageStatus) -> list[MessageHistory]:
    query = select(MessageHistory).where(MessageHistory.status == status)
    return list((await session.scalars(query.order_by(MessageHistory.id))).all())


async def status_counts(session: AsyncSession, message_id: int) -> dict[DeliveryStatus, int]:
    rows = (
        await session.execute(
            select(MessageRecipient.status, func.count())
            .where(MessageRecipient.message_id == message_id)
            .group_by(MessageRecipient.status)
        )
    ).all()
    return {DeliveryStatus(s): n for s, n in rows}


async def not_reached(
    session: AsyncSession, message_id: int, limit: int, offset: int
) -> tuple[list[tuple[MessageRecipient, User | None]], int]:
    """Failed, blocked and unconfirmed recipients with their person: one page and the total."""
    statuses = [DeliveryStatus.FAILED, DeliveryStatus.BLOCKED, DeliveryStatus.UNCONFIRMED]
    where = and_(MessageRecipient.message_id == message_id, MessageRecipient.status.in_(statuses))
    total = (
        await session.scalar(select(func.count()).select_from(MessageRecipient).where(where))
    ) or 0
    query = (
        select(MessageRecipient, User)
        .outerjoin(User, User.id == MessageRecipient.user_id)
        .where(where)
        .order_by(MessageRecipient.user_id)
        .limit(limit)
        .offset(offset)
    )
    rows = (await session.execute(query)).all()
    return [(row[0], row[1]) for row in rows], total


async def claim_scheduled(
    session: AsyncSession, message_id: int, now: datetime, due_only: bool
) -> bool:
    """Move a scheduled message to `sending` in one conditional UPDATE: only one caller wins.

    With `due_only`, it must also have come due (a job or the sweep); "Send now" skips that.
    """
    statement = update(MessageHistory).where(
        MessageHistory.id == message_id, MessageHistory.status == MessageStatus.SCHEDULED
    )
    if due_only:
        statement = statement.where(MessageHistory.scheduled_at <= now)
    result = await session.execute(statement.values(status=MessageStatus.SENDING, started_at=now))
    return bool(getattr(result, "rowcount", 0))


async def reschedule(session: AsyncSession, message_id: int, when: datetime) -> bool:
    """Move a still-scheduled message to a new time; False if it already left the queue."""
    result = await session.execute(
        update(MessageHistory)
        .where(MessageHistory.id == message_id, MessageHistory.status == MessageStatus.SCHEDULED)
        .values(scheduled_at=when)
    )
    return bool(getattr(result, "rowcount", 0))


async def scheduled(
    session: AsyncSession, limit: int | None = None, offset: int = 0
) -> tuple[list[MessageHistory], int]:
    """The queue, soonest first: one page and the total."""
    where = MessageHistory.status == MessageStatus.SCHEDULED
    total = (await session.scalar(select(func.count(MessageHistory.id)).where(where))) or 0
    query = (
        select(MessageHistory).where(where).order_by(MessageHistory.scheduled_at, MessageHistory.id)
    )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list((await session.scalars(query)).all()), total
