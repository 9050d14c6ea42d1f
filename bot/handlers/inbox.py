"""Students' messages in the admins' chat and the admins' replies: the header each message
arrives under (Reply, Person, Done), /inbox with the open threads, the reply conversation, and
Telegram's own reply to a forwarded message."""

from __future__ import annotations

import math
import time
from datetime import datetime

from markupsafe import Markup
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
)

from bot import commands, inbox, keyboards
from bot.callbacks import InboxAction, InboxCb, MenuAction, MenuCb
from bot.context import Handlers, HeraldContext
from bot.handlers.content_input import read_content
from bot.handlers.people import person_card
from bot.handlers.screens import redraw
from bot.handlers.when import admin_zone
from bot.inbox import Replied, Verdict
from bot.keyboards import pager
from bot.scheduling import display
from bot.texts import Texts
from bot.texts.render import echo, html, join
from bot.views import first_words
from db.models import DeliveryStatus, InboxMessage, User, full_name
from db.repo import inbox as inbox_repo
from db.repo import messages, streams, users

PER_PAGE = 8
SHOWN = 5  # a thread card shows this many of the student's latest messages
WORDS = 60


def _button(label: str, data: InboxCb | MenuCb) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data.pack())


def _name(person: User | None, user_id: int) -> str:
    if person is None:
        return str(user_id)
    return full_name(person.first_name, person.last_name) or str(user_id)


def _thread_buttons(texts: Texts, user_id: int, page: int) -> list[InlineKeyboardButton]:
    """Reply, Person, Done; `page` is the /inbox page of a thread card, -1 under a header."""
    return [
        _button(texts.inbox_button_reply, InboxCb(InboxAction.REPLY, user_id, page)),
        _button(texts.inbox_button_person, InboxCb(InboxAction.PERSON, user_id, page)),
        _button(texts.inbox_button_done, InboxCb(InboxAction.DONE, user_id, page)),
    ]


async def _who(context: HeraldContext, user_id: int) -> tuple[User | None, Markup]:
    """A student as one line: name, @username, stream."""
    texts = context.texts
    async with context.services.sessions() as session:
        person = await users.get(session, user_id)
        stream = None
        if person is not None and person.stream_id is not None:
            stream = await streams.get(session, person.stream_id)
    handle = f" @{person.username}" if person is not None and person.username else ""
    line = html(
        texts.inbox_header,
        name=_name(person, user_id),
        handle=handle,
        stream=stream.title if stream is not None else texts.pick_no_stream,
    )
    return person, line


# ----- a student writes -----------------------------------------------------------------------


async def student_message(update: Update, context: HeraldContext) -> None:
    """A student's message, with `[bot] replies = "forward"`: to the course team, with one
    short acknowledgement when it opens a new thread; a flood gets one note, then silence."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None and context.user_data is not None
    services = context.services
    if inbox.kind_of(message) is None:
        return
    # An album counts once: its later items go on without a second flood count or note.
    first_item = context.user_data.first_of_album(message.media_group_id)
    verdict = services.flood.admit(user.id) if first_item else Verdict.PASS
    if verdict is Verdict.DROP:
        return
    if verdict is Verdict.WARN:
        await message.reply_text(context.texts.inbox_flood)
        return
    stored, first = await inbox.received(services.sessions, message, user.id, services.clock())
    answers = None
    if stored.answers_message_id is not None:
        async with services.sessions() as session:
            answers = await messages.get(session, stored.answers_message_id)

    def header(admin_id: int) -> tuple[str, InlineKeyboardMarkup]:
        texts = services.languages.texts_for(admin_id)
        lines = [html(texts.inbox_header_prefix), who]
        if answers is not None:
            lines.append(
                html(texts.inbox_answers, id=answers.id, words=first_words(answers, texts))
            )
        markup = InlineKeyboardMarkup([_thread_buttons(texts, user.id, -1)])
        return join(lines), markup

    _, who = await _who(context, user.id)
    await inbox.forward(
        context.bot, services.sessions, stored, services.config.bot.repliers, header
    )
    if first and first_item:
        await message.reply_text(context.texts.inbox_ack)


# ----- /inbox ---------------------------------------------------------------------------------


async def render_list(
    context: HeraldContext, admin_id: int, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    """Students with open messages, newest first, one button each; or how to turn it on."""
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    now = context.services.clock()
    home = [_button(texts.menu_back, MenuCb(MenuAction.HOME))]
    if context.services.config.bot.replies == "off":
        return html(texts.inbox_off), InlineKeyboardMarkup([home])
    rows: list[list[InlineKeyboardButton]] = []
    async with context.services.sessions() as session:
        threads, total, unanswered = await inbox_repo.open_threads(
            session, PER_PAGE, keyboards.page_start(page, PER_PAGE)
        )
        people = {t.user_id: await users.get(session, t.user_id) for t in threads}
    lines = [html(texts.inbox_title, threads=total, messages=unanswered)]
    if not total:
        lines.append(html(texts.inbox_empty))
    for thread in threads:
        label = texts.inbox_entry.format(
            name=echo(_name(people[thread.user_id], thread.user_id), 24),
            n=thread.unanswered,
            when=display.local_time(thread.last_at, zone, texts, now),
        )
        rows.append([_button(label, InboxCb(InboxAction.THREAD, thread.user_id, page))])
    nav = pager(page, max(1, math.ceil(total / PER_PAGE)), InboxCb(InboxAction.LIST), "page")
    if nav:
        rows.append(nav)
    rows.append(home)
    return join(lines), InlineKeyboardMarkup(rows)


async def render_thread(
    context: HeraldContext, admin_id: int, user_id: int, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    """A student and their latest messages (open ones marked), with Reply, Person, Done."""
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    now = context.services.clock()
    _, who = await _who(context, user_id)
    async with context.services.sessions() as session:
        latest = await inbox_repo.latest(session, user_id, SHOWN)
    lines = [who]
    lines += [_line(texts, m, zone, now) for m in reversed(latest)]
    markup = InlineKeyboardMarkup(
        [
            _thread_buttons(texts, user_id, page),
            [
                _button(texts.inbox_back, InboxCb(InboxAction.LIST, page=page)),
                _button(texts.menu_back, MenuCb(MenuAction.HOME)),
            ],
        ]
    )
    return join(lines), markup


def _line(texts: Texts, message: InboxMessage, zone: str, now: datetime) -> Markup:
    words = " ".join(message.text.split()) or f"[{message.kind}]"
    return html(
        texts.inbox_line,
        mark="•" if message.open else "✓",
        when=display.local_time(message.received_at, zone, texts, now),
        words=echo(words, WORDS),
    )


async def inbox_command(update: Update, context: HeraldContext) -> None:
    """Receives /inbox: the open threads, newest first."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    text, markup = await render_list(context, user.id, 0)
    await chat.send_message(text, reply_markup=markup)


async def inbox_tap(update: Update, context: HeraldContext) -> None:
    """Receives a page, a thread, Person (a card, sent anew) or Done."""
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    assert query is not None and query.data is not None and user is not None and chat is not None
    data = InboxCb.unpack(query.data)
    texts = context.texts
    services = context.services
    if data.action is InboxAction.LIST:
        await query.answer()
        await redraw(query, *await render_list(context, user.id, data.page))
    elif data.action is InboxAction.THREAD:
        await query.answer()
        await redraw(query, *await render_thread(context, user.id, data.user_id, data.page))
    elif data.action is InboxAction.PERSON:
        card = await person_card(context, user.id, data.user_id)
        if card is None:
            await query.answer(texts.menu_expired, show_alert=True)
            return
        await query.answer()
        await chat.send_message(card[0], reply_markup=card[1])
    elif data.action is InboxAction.DONE:
        closed = await inbox.mark_done(services.sessions, data.user_id, user.id, services.clock())
        if not closed:
            await query.answer(texts.inbox_nothing_open, show_alert=True)
            return
        await query.answer(texts.plural(texts.inbox_closed, closed))
        if data.page >= 0:  # on a thread card: show it closed
            await redraw(query, *await render_thread(context, user.id, data.user_id, data.page))


# ----- replying -------------------------------------------------------------------------------


async def _send_reply(
    message: Message,
    context: HeraldContext,
    admin_id: int,
    student_id: int,
    answers: int | None = None,
) -> bool:
    """Send the admin's message to the student; False when it cannot be sent as it is."""
    content = await read_content(message, context.texts, placeholders=False)
    if content is None:
        return False
    services = context.services
    if answers is None:
        async with services.sessions() as session:
            latest = await inbox_repo.latest(session, student_id, 1)
        answers = latest[0].id if latest else None
    done: Replied = await inbox.reply(
        context.bot,
        services.sessions,
        services.clock(),
        admin_id,
        student_id,
        content,
        answers,
        services.config.bot.close_on_answer,
    )
    person, _ = await _who(context, student_id)
    name = _name(person, student_id)
    texts = context.texts
    reply = {
        DeliveryStatus.SENT: html(texts.reply_sent, name=name),
        DeliveryStatus.BLOCKED: html(texts.reply_blocked, name=name),
        DeliveryStatus.FAILED: html(texts.reply_failed, name=name, error=echo(done.error or "")),
    }[done.outcome]
    await message.reply_text(reply)
    return True


async def begin_reply(update: Update, context: HeraldContext) -> None:
    """Receives Reply under a student's message or on a thread card: the next message the
    admin sends goes to that student (any other tap or /cancel ends the prompt)."""
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and query.data is not None and chat is not None
    assert context.user_data is not None
    data = InboxCb.unpack(query.data)
    person, _ = await _who(context, data.user_id)
    if person is None:
        await query.answer(context.texts.menu_expired, show_alert=True)
        return
    await query.answer()
    context.user_data.replying_to = data.user_id
    context.user_data.replying_since = time.monotonic()
    await chat.send_message(html(context.texts.reply_ask, name=_name(person, data.user_id)))


def _end_prompt(context: HeraldContext) -> None:
    assert context.user_data is not None
    context.user_data.replying_to = None


async def replies_first(update: Update, context: HeraldContext) -> None:
    """Runs ahead of the flows, for admins: a Telegram reply to a student's forwarded message
    (or its header) goes to that student; while a Reply prompt is open, the next message is
    the reply. A tap elsewhere ends the prompt (and goes on); a command is answered with what
    is waiting, /cancel ends it."""
    user, user_data = update.effective_user, context.user_data
    if user is None or user_data is None or not context.services.is_admin(user.id):
        return
    message = update.message
    command = message is not None and (message.text or "").startswith("/")
    if message is not None and message.reply_to_message is not None and not command:
        async with context.services.sessions() as session:
            found = await inbox_repo.by_copy(session, user.id, message.reply_to_message.message_id)
        if found is not None:
            if user_data.first_of_album(message.media_group_id):
                await _send_reply(message, context, user.id, found.user_id, found.id)
            if user_data.replying_to == found.user_id:
                _end_prompt(context)
            raise ApplicationHandlerStop
    student = user_data.replying_to
    if student is None:
        return
    if time.monotonic() - user_data.replying_since > context.services.conversation_timeout:
        _end_prompt(context)
        if update.effective_chat is not None:
            person, _ = await _who(context, student)
            await update.effective_chat.send_message(
                html(context.texts.reply_timed_out, name=_name(person, student))
            )
        return
    if update.callback_query is not None:
        if not InboxCb.matches(lambda d: d.action is InboxAction.REPLY)(update.callback_query.data):
            _end_prompt(context)
        return
    if message is None:
        return
    person, _ = await _who(context, student)
    name = _name(person, student)
    if command:
        if commands.is_cancel(message.text):
            _end_prompt(context)
            await message.reply_text(context.texts.reply_cancelled)
        else:
            await message.reply_text(html(context.texts.reply_busy, name=name))
        raise ApplicationHandlerStop
    if not user_data.first_of_album(message.media_group_id):
        raise ApplicationHandlerStop
    if await _send_reply(message, context, user.id, student):
        _end_prompt(context)
    raise ApplicationHandlerStop


def handlers() -> Handlers:
    """`replies_first` is registered in a group of its own, ahead of these (see bot.app)."""
    return [
        CommandHandler(commands.INBOX, inbox_command),
        CallbackQueryHandler(
            begin_reply, pattern=InboxCb.matches(lambda d: d.action is InboxAction.REPLY)
        ),
        CallbackQueryHandler(
            inbox_tap, pattern=InboxCb.matches(lambda d: d.action is not InboxAction.REPLY)
        ),
    ]
