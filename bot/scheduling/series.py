"""Repeating schedules in the database: a series and its one pending occurrence, an ordinary
scheduled message. Functions take the caller's session: the dispatcher makes the next occurrence
in the same transaction that takes the previous one out of the queue, so each is made once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.content import Button, Content, Options, stored
from bot.scheduling.recurrence import Rule, next_after
from db.models import MessageHistory, MessageKind, MessageStatus, Series, SeriesStatus
from db.repo import audience, messages
from db.repo.audience import Selection

LIVE = (SeriesStatus.ACTIVE, SeriesStatus.PAUSED)


def template_of(content: Content, selection: Selection) -> dict[str, Any]:
    return {
        "kind": content.kind.value,
        "text": content.text,
        "entities": list(content.entities),
        "file_id": content.file_id,
        "buttons": content.buttons_json(),
        "options": {
            "silent": content.options.silent,
            "protected": content.options.protected,
            "preview": content.options.preview,
        },
        "selection": selection.to_json(),
    }


def content_of(template: dict[str, Any]) -> Content:
    options = template.get("options", {})
    return Content(
        MessageKind(template["kind"]),
        template.get("text", ""),
        tuple(template.get("entities", [])),
        template.get("file_id"),
        tuple(tuple(Button(b["text"], b["url"]) for b in row) for row in template["buttons"]),
        Options(
            bool(options.get("silent", False)),
            bool(options.get("protected", False)),
            bool(options.get("preview", True)),
        ),
    )


def as_message(item: Series) -> MessageHistory:
    """The series' message, unsaved, for what renders messages (first words, a preview)."""
    content = content_of(item.template)
    return MessageHistory(kind=content.kind, text=content.text, entities=list(content.entities))


async def create(
    session: AsyncSession,
    author_id: int,
    content: Content,
    selection: Selection,
    rule: Rule,
    zone: str,
    first: datetime,
    now: datetime,
) -> tuple[Series, MessageHistory]:
    """A series and its first occurrence at `first`."""
    series = Series(
        author_id=author_id,
        zone=zone,
        rule=rule.to_json(),
        template=template_of(content, selection),
        made=0,
        status=SeriesStatus.ACTIVE,
        created_at=now,
    )
    session.add(series)
    await session.flush()
    return series, await _occurrence(session, series, first, now)


async def _occurrence(
    session: AsyncSession, series: Series, at: datetime, now: datetime
) -> MessageHistory:
    """The scheduled message for `at`. A slot taken out of the queue by a pause comes back
    (one row per series and time); it was counted when it was first made."""
    content = content_of(series.template)
    selection = Selection.from_json(series.template["selection"])
    m = MessageHistory
    earlier = (
        await session.scalars(select(m).where(m.series_id == series.id, m.scheduled_at == at))
    ).first()
    if earlier is not None and earlier.status is MessageStatus.CANCELLED:
        earlier.status = MessageStatus.SCHEDULED
        earlier.finished_at = None
        earlier.text, earlier.entities = content.text, list(content.entities)
        return earlier
    message = await messages.create(
        session,
        stored(
            content,
            series.author_id,
            selection.to_json(),
            recipient_type=selection.recipient_type(),
            recipient_group=await audience.recipient_group(session, selection),
            status=MessageStatus.SCHEDULED,
            scheduled_at=at,
            created_at=now,
            series_id=series.id,
        ),
    )
    await messages.add_targets(session, message.id, selection.targets())
    series.made += 1
    return message


async def advance(
    session: AsyncSession, series_id: int, after: datetime, now: datetime
) -> MessageHistory | None:
    """Make the occurrence after `after` (and after now: occurrences a long outage skipped are
    not made); the series finishes when its rule has no more. Only for an active series."""
    series = await session.get(Series, series_id)
    if series is None or series.status is not SeriesStatus.ACTIVE:
        return None
    rule = Rule.from_json(series.rule)
    at = next_after(rule, series.zone, max(after, now), series.made)
    if at is None:
        series.status = SeriesStatus.FINISHED
        return None
    return await _occurrence(session, series, at, now)


async def pending(session: AsyncSession, series_id: int) -> MessageHistory | None:
    """The occurrence waiting in the queue, if any."""
    m = MessageHistory
    query = select(m).where(m.series_id == series_id, m.status == MessageStatus.SCHEDULED)
    return (await session.scalars(query)).first()


async def get(session: AsyncSession, series_id: int) -> Series | None:
    return await session.get(Series, series_id)


async def live(session: AsyncSession) -> list[Series]:
    """Active and paused series, oldest first."""
    query = select(Series).where(Series.status.in_(LIVE)).order_by(Series.id)
    return list((await session.scalars(query)).all())


async def take_pending(
    session: AsyncSession, series_id: int, now: datetime
) -> MessageHistory | None:
    """Take the pending occurrence out of the queue (cancelled); None if there was none (it
    went out meanwhile)."""
    waiting = await pending(session, series_id)
    if waiting is None:
        return None
    taken = await messages.set_status(
        session,
        waiting.id,
        MessageStatus.CANCELLED,
        expected=[MessageStatus.SCHEDULED],
        finished_at=now,
    )
    return waiting if taken else None


async def set_status(
    session: AsyncSession, series_id: int, status: SeriesStatus, expected: tuple[SeriesStatus, ...]
) -> bool:
    result = await session.execute(
        update(Series)
        .where(Series.id == series_id, Series.status.in_(expected))
        .values(status=status)
    )
    return bool(getattr(result, "rowcount", 0))


async def set_text(
    session: AsyncSession, series: Series, text: str, entities: list[dict[str, Any]]
) -> MessageHistory | None:
    """New text (or caption) for this and the following occurrences."""
    series.template = {**series.template, "text": text, "entities": entities}
    waiting = await pending(session, series.id)
    if waiting is not None:
        waiting.text = text
        waiting.entities = entities
    return waiting
