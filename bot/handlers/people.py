"""/users, person cards with stream moves, and the people export."""

from __future__ import annotations

import logging
import math

from sqlalchemy import func, select
from telegram import InlineKeyboardMarkup, InputFile, Update

from bot import keyboards
from bot.callbacks import PeopleAction, PeopleCb
from bot.context import HeraldContext
from bot.exports import export_people, status_of
from bot.handlers.screens import redraw
from bot.handlers.when import admin_zone
from bot.scheduling import display
from bot.texts.render import echo, html
from bot.views import first_words
from db.models import AuditAction, DeliveryStatus, MessageHistory, MessageRecipient, User, full_name
from db.repo import audience, audit, streams, users

log = logging.getLogger(__name__)

PER_PAGE = 8


async def users_command(update: Update, context: HeraldContext) -> None:
    """Receives /users [query]; shows the counts, or the people matching the query."""
    message, chat = update.effective_message, update.effective_chat
    assert chat is not None and context.user_data is not None
    if update.callback_query is not None:
        await update.callback_query.answer()
    query = " ".join(context.args or []).strip() if message is not None else ""
    context.user_data.people_query = query
    text, markup = await _results(context, 0)
    await chat.send_message(text, reply_markup=markup)


async def _results(context: HeraldContext, page: int) -> tuple[str, InlineKeyboardMarkup]:
    texts = context.texts
    assert context.user_data is not None
    query = context.user_data.people_query
    async with context.services.sessions() as session:
        row = (
            await session.execute(
                select(
                    func.count(User.id),
                    func.count(User.id).filter(User.is_blocked.is_(True)),
                    func.count(User.id).filter(
                        User.is_blocked.is_(False), User.started_at.is_(None)
                    ),
                )
            )
        ).one()
        found, total = await audience.search(session, query, PER_PAGE, page * PER_PAGE)
    lines = [html(texts.users_title, registered=row[0], blocked=row[1], not_started=row[2])]
    if not query:
        lines.append(html(texts.users_hint))
    elif total:
        lines.append(html(texts.users_results, count=total, query=echo(query)))
    else:
        lines.append(html(texts.users_nothing, query=echo(query)))
    pages = max(1, math.ceil(total / PER_PAGE))
    return "\n\n".join(lines), keyboards.people_results(texts, found, page, pages)


async def people_tap(update: Update, context: HeraldContext) -> None:
    """Receives results paging, a person, a stream move, or Export (not "Message")."""
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    assert query is not None and query.data is not None and user is not None and chat is not None
    data = PeopleCb.unpack(query.data)
    texts = context.texts
    services = context.services
    if data.action is PeopleAction.RESULTS:
        await query.answer()
        text, markup = await _results(context, data.arg)
        await redraw(query, text, markup)
        return
    if data.action is PeopleAction.EXPORT:
        await query.answer()
        async with services.sessions.begin() as session:
            content, count = await export_people(session)
            await audit.record(
                session, user.id, AuditAction.EXPORT, services.clock(), target=f"{count} people"
            )
        await chat.send_document(
            InputFile(content, filename="people.csv"),
            caption=html(texts.export_people_caption, count=count),
        )
        return
    if data.action in (PeopleAction.MOVE, PeopleAction.REMOVE):
        stream_id = data.arg if data.action is PeopleAction.MOVE else None
        async with services.sessions.begin() as session:
            stream = await streams.get(session, stream_id) if stream_id is not None else None
            gone = stream_id is not None and (stream is None or stream.archived)
            if gone or await users.get(session, data.user_id) is None:
                await query.answer(texts.menu_expired, show_alert=True)
                return
            await users.set_stream(session, data.user_id, stream_id)
            await audit.record(
                session,
                user.id,
                AuditAction.MOVE,
                services.clock(),
                target=f"user {data.user_id}",
                details={"stream_id": stream_id},
            )
    card = await person_card(context, user.id, data.user_id)
    if card is None:
        await query.answer(texts.menu_expired, show_alert=True)
        return
    moved = data.action in (PeopleAction.MOVE, PeopleAction.REMOVE)
    await query.answer(texts.person_moved if moved else None)
    await redraw(query, card[0], card[1])


async def person_card(
    context: HeraldContext, admin_id: int, user_id: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    """A person's details, what they received lately, and the actions on them."""
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    async with context.services.sessions() as session:
        person = await users.get(session, user_id)
        if person is None:
            return None
        stream_list = await streams.listed(session)
        received = (
            await session.scalar(
                select(func.count()).where(
                    MessageRecipient.user_id == user_id,
                    MessageRecipient.status == DeliveryStatus.SENT,
                )
            )
        ) or 0
        latest = (
            await session.execute(
                select(MessageHistory, MessageRecipient.sent_at)
                .join(MessageRecipient, MessageRecipient.message_id == MessageHistory.id)
                .where(
                    MessageRecipient.user_id == user_id,
                    MessageRecipient.status == DeliveryStatus.SENT,
                )
                .order_by(MessageRecipient.sent_at.desc())
                .limit(3)
            )
        ).all()
    titles = {s.id: s.title for s in stream_list}
    name = full_name(person.first_name, person.last_name) or str(person.id)
    status = status_of(person.is_blocked, person.started_at is not None)
    lines = [
        html(
            texts.person_card,
            name=name,
            handle=f" @{person.username}" if person.username else "",
            id=person.id,
            stream=titles.get(person.stream_id or 0, texts.pick_no_stream),
            joined=display.local_time(person.joined_at, zone, texts),
            seen=display.local_time(person.last_seen_at, zone, texts),
            status=texts.person_status[status],
            received=received,
        )
    ]
    if latest:
        lines.append(html(texts.person_last))
        lines += [
            html(
                texts.person_last_line,
                id=message.id,
                when=display.local_time(sent_at or message.created_at, zone, texts),
                words=first_words(message),
            )
            for message, sent_at in latest
        ]
    return "\n".join(lines), keyboards.person(texts, person, stream_list)
