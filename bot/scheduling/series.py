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


MOST_SLOTS_TRIED = 400
"""Slots `advance` steps over (taken ones) before giving up: more than a year of daily ones."""


async def _occurrence(
    session: AsyncSession, series: Series, slot: datetime, now: datetime
) -> MessageHistory:
    """A new scheduled message for the rule's `slot`, counted as made."""
    content = content_of(series.template)
    selection = Selection.from_json(series.template["selection"])
    message = await messages.create(
        session,
        stored(
            content,
            series.author_id,
            selection.to_json(),
            recipient_type=selection.recipient_type(),
            recipient_group=await audience.recipient_group(session, selection),
            status=MessageStatus.SCHEDULED,
            scheduled_at=slot,
            created_at=now,
            series_id=series.id,
            series_slot=slot,
        ),
    )
    await messages.add_targets(session, message.id, selection.targets())
    series.made += 1
    return message


async def _in_slot(session: AsyncSession, series_id: int, slot: datetime) -> MessageHistory | None:
    m = MessageHistory
    query = select(m).where(m.series_id == series_id, m.series_slot == slot)
    return (await session.scalars(query)).first()


async def advance(
    session: AsyncSession, series_id: int, after: datetime, now: datetime
) -> MessageHistory | None:
    """Put the series' next slot after `after` (and after now: slots a long outage passed are
    not made) in the queue; the series finishes when its rule has no more. Only for an active
    series. A slot that already has a row is stepped over, except one a pause took out of the
    queue and no skip passed: that one comes back as it was (it was counted when made)."""
    series = await session.get(Series, series_id)
    if series is None or series.status is not SeriesStatus.ACTIVE:
        return None
    rule = Rule.from_json(series.rule)
    since = max(after, now)
    for _ in range(MOST_SLOTS_TRIED):
        slot = next_after(rule, series.zone, since)
        if slot is None:
            break
        earlier = await _in_slot(session, series_id, slot)
        if earlier is None:
            if rule.count is not None and series.made >= rule.count:
                break
            return await _occurrence(session, series, slot, now)
        skipped = series.skipped_to is not None and slot <= series.skipped_to
        if earlier.status is MessageStatus.CANCELLED and not skipped:
            content = content_of(series.template)
            earlier.status = MessageStatus.SCHEDULED
            earlier.finished_at = None
            earlier.scheduled_at = slot
            earlier.text, earlier.entities = content.text, list(content.entities)
            return earlier
        since = slot
    series.status = SeriesStatus.FINISHED
    return None


def note_skipped(series: Series, message: MessageHistory) -> None:
    """An occurrence left the queue without going out (skipped, cancelled): never bring it back."""
    slot = message.series_slot
    if slot is not None and (series.skipped_to is None or slot > series.skipped_to):
        series.skipped_to = slot


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
