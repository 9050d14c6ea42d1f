"""/users: counts and search (the next typed text searches), person cards with stream moves and
Undo, and the people export."""

from __future__ import annotations

import logging
import math

from markupsafe import Markup
from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler, CommandHandler

from bot import commands, keyboards
from bot.callbacks import MenuAction, MenuCb, PeopleAction, PeopleCb
from bot.context import Handlers, HeraldContext
from bot.exports import export_people, status_of
from bot.handlers.screens import redraw
from bot.handlers.when import admin_zone
from bot.scheduling import display
from bot.texts.render import echo, html
from bot.views import first_words
from db.models import AuditAction, full_name
from db.repo import audience, audit, streams, users
from db.repo.audit import Target

log = logging.getLogger(__name__)

PER_PAGE = 8
LATEST = 3


async def users_command(update: Update, context: HeraldContext) -> None:
    """Receives /users [query] or the menu's People; shows the counts or the people matching,
    and from then on a typed text is a search (the screen says so) until another command."""
    message, chat = update.effective_message, update.effective_chat
    assert chat is not None and context.user_data is not None
    if update.callback_query is not None:
        await update.callback_query.answer()
    query = " ".join(context.args or []).strip() if update.callback_query is None else ""
    context.user_data.people_query = query
    context.user_data.searching_people = True
    text, markup = await _results(context, 0)
    if update.callback_query is not None and message is not None:
        await redraw(update.callback_query, text, markup)
    else:
        await chat.send_message(text, reply_markup=markup)


async def search_mode(update: Update, context: HeraldContext) -> None:
    """Runs before the other handlers: while /users is open a typed text is a search (and
    nothing else sees it). Its own buttons keep it; any other command or button ends it, and
    a flow waiting for typed text (a draft, a stream prompt, a new time) always comes first."""
    user_data = context.user_data
    if user_data is None or not user_data.searching_people:
        return
    flows = (user_data.draft, user_data.stream_edit, user_data.reschedule, user_data.amend)
    if any(flows) or user_data.replying_to is not None or user_data.series_text is not None:
        user_data.searching_people = False
        return
    query = update.callback_query
    if query is not None:
        own = PeopleCb.matches(lambda d: d.action is not PeopleAction.MESSAGE)
        user_data.searching_people = bool(query.data and own(query.data))
        return
    message = update.message
    if message is None or message.text is None:
        return
    if message.text.startswith("/"):
        user_data.searching_people = False
        return
    user_data.people_query = message.text.strip()
    text, markup = await _results(context, 0)
    await message.reply_text(text, reply_markup=markup)
    raise ApplicationHandlerStop


async def _results(context: HeraldContext, page: int) -> tuple[str, InlineKeyboardMarkup]:
    texts = context.texts
    assert context.user_data is not None
    query = context.user_data.people_query
    async with context.services.sessions() as session:
        counts = await users.counts(session)
        found, total = await audience.search(
            session, query, PER_PAGE, keyboards.page_start(page, PER_PAGE)
        )
    lines = [
        html(
            texts.users_title,
            registered=counts.registered,
            blocked=counts.blocked,
            not_started=counts.not_started,
        )
    ]
    if not query:
        lines.append(html(texts.users_hint))
    elif total:
        found_text = texts.plural(texts.people_found, total)
        lines.append(html(texts.users_results, found=found_text, query=echo(query)))
    else:
        lines.append(html(texts.users_nothing, query=echo(query)))
    pages = max(1, math.ceil(total / PER_PAGE))
    return "\n\n".join(lines), keyboards.people_results(texts, found, page, pages)


async def people_tap(update: Update, context: HeraldContext) -> None:
    """Receives results paging, a person, a stream move or its Undo, or Export (not "Message")."""
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    assert query is not None and query.data is not None and user is not None and chat is not None
    assert context.user_data is not None
    data = PeopleCb.unpack(query.data)
    texts = context.texts
    services = context.services
    if data.action is PeopleAction.RESULTS:
        await query.answer()
        context.user_data.searching_people = True
        text, markup = await _results(context, data.arg)
        await redraw(query, text, markup)
        return
    if data.action is PeopleAction.EXPORT:
        await query.answer()
        async with services.sessions.begin() as session:
            content, count = await export_people(session)
            await audit.record(
                session, user.id, AuditAction.EXPORT, services.clock(), Target(people=count)
            )
        await chat.send_document(
            InputFile(content, filename="people.csv"),
            caption=html(texts.export_people_caption, count=count),
        )
        return
    note: Markup | None = None
    undo: int | None = None
    if data.action in (PeopleAction.MOVE, PeopleAction.REMOVE, PeopleAction.UNDO):
        moved = await _move(context, user.id, data)
        if moved is None:
            await query.answer(texts.menu_expired, show_alert=True)
            return
        note, undo = moved
    card = await person_card(context, user.id, data.user_id, note, undo)
    if card is None:
        await query.answer(texts.menu_expired, show_alert=True)
        return
    await query.answer()
    await redraw(query, card[0], card[1])


async def _move(
    context: HeraldContext, admin_id: int, data: PeopleCb
) -> tuple[Markup, int | None] | None:
    """Put a person in a stream (or none); the line that says so and, unless this was an
    Undo, the stream to go back to (0: none). None when the person or stream is gone."""
    texts = context.texts
    services = context.services
    stream_id = data.arg or None if data.action is not PeopleAction.REMOVE else None
    async with services.sessions.begin() as session:
        person = await users.get(session, data.user_id)
        every = await streams.listed(session, include_archived=True)
        titles = {s.id: s.title for s in every}
        allowed = {s.id for s in every if not s.archived} | {None}
        undo = data.action is PeopleAction.UNDO
        if undo:
            allowed |= titles.keys()  # back where they were, even into a stream archived since
        if person is None or stream_id not in allowed:
            return None
        if undo and person.stream_id != (data.now or None):
            return None  # moved again since (another tap, another admin): not ours to undo
        before = person.stream_id
        await users.set_stream(session, person.id, stream_id)
        action = AuditAction.MOVE if stream_id is not None else AuditAction.REMOVE
        named = titles.get(stream_id or before or 0)
        await audit.record(
            session, admin_id, action, services.clock(), Target(user=person.id, stream=named)
        )
    title = named or texts.pick_no_stream
    if undo:
        return html(texts.person_undone, stream=title), None
    if stream_id is None:
        return html(texts.person_removed, stream=title), before or 0
    return html(texts.person_moved_to, stream=title), before or 0


async def person_card(
    context: HeraldContext,
    admin_id: int,
    user_id: int,
    note: Markup | None = None,
    undo: int | None = None,
) -> tuple[str, InlineKeyboardMarkup] | None:
    """A person's details, what they received lately, and the actions on them; `note` says
    what was just done, with Undo when `undo` (the stream to go back to) is given."""
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    async with context.services.sessions() as session:
        person = await users.get(session, user_id)
        if person is None:
            return None
        stream_list = await streams.listed(session, include_archived=True)
        received, latest = await users.received(session, user_id, LATEST)
    titles = {s.id: s.title for s in stream_list}
    stream_list = [s for s in stream_list if not s.archived]
    name = full_name(person.first_name, person.last_name) or str(person.id)
    status = status_of(person.is_blocked, person.started_at is not None)
    lines = [note] if note is not None else []
    lines.append(
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
    )
    if latest:
        lines.append(html(texts.person_last))
        lines += [
            html(
                texts.person_last_line,
                id=message.id,
                when=display.local_time(sent_at or message.created_at, zone, texts),
                words=first_words(message, texts),
            )
            for message, sent_at in latest
        ]
    return "\n".join(lines), keyboards.person(texts, person, stream_list, undo)


def handlers() -> Handlers:
    """ "Message this person" is not here: it opens the compose conversation. `search_mode`
    is registered in a group of its own, ahead of these (see bot.app)."""
    return [
        CommandHandler(commands.USERS, users_command),
        CallbackQueryHandler(users_command, pattern=MenuCb(MenuAction.USERS).pack()),
        CallbackQueryHandler(
            people_tap, pattern=PeopleCb.matches(lambda d: d.action is not PeopleAction.MESSAGE)
        ),
    ]
