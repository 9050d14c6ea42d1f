"""Repeating schedules in /scheduled: each series with its rule and next occurrence, and Skip
next, Pause / Resume, Text (this and following) and Stop. The text is a short conversation of
its own, like a new time for a queued message."""

from __future__ import annotations

import math
import time

from markupsafe import Markup
from telegram import InlineKeyboardButton, Message, Update
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler

from bot import commands, keyboards
from bot.callbacks import QueueCb, SeriesAction, SeriesCb
from bot.context import Handlers, HeraldContext
from bot.delivery.content import CAPTION_LIMIT
from bot.handlers.content_input import read_content
from bot.handlers.repeat import describe
from bot.handlers.when import admin_zone
from bot.scheduling import display, series
from bot.scheduling.recurrence import Rule
from bot.texts import Texts
from bot.texts.render import html
from bot.views import first_words
from db.models import AuditAction, MessageHistory, MessageKind, Series, SeriesStatus

ACTIONS = {
    SeriesAction.SKIP: AuditAction.SERIES_SKIP,
    SeriesAction.PAUSE: AuditAction.SERIES_PAUSE,
    SeriesAction.RESUME: AuditAction.SERIES_RESUME,
    SeriesAction.STOP_OK: AuditAction.SERIES_STOP,
}


def _button(label: str, data: SeriesCb | QueueCb) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data.pack())


PER_PAGE = 4


async def section(
    context: HeraldContext, admin_id: int, page: int
) -> tuple[list[Markup], list[list[InlineKeyboardButton]], int]:
    """One page of the live series, a line and a row of buttons each, and how many pages
    they take (0 when there are none)."""
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    async with context.services.sessions() as session:
        everything = await series.live(session)
        start = keyboards.page_start(page, PER_PAGE)
        found = everything[start : start + PER_PAGE]
        waiting = {s.id: await series.pending(session, s.id) for s in found}
    pages = math.ceil(len(everything) / PER_PAGE)
    if not found:
        return [], [], pages
    lines = [html(texts.series_title, count=len(everything))]
    rows: list[list[InlineKeyboardButton]] = []
    for item in found:
        lines.append(_line(texts, item, waiting[item.id], zone))
        paused = item.status is SeriesStatus.PAUSED
        next_one = waiting[item.id]
        skip = SeriesCb(SeriesAction.SKIP, item.id, page, next_one.id if next_one else 0)
        rows.append(
            [
                _button(texts.series_skip, skip),
                _button(
                    texts.series_resume if paused else texts.series_pause,
                    SeriesCb(SeriesAction.RESUME if paused else SeriesAction.PAUSE, item.id, page),
                ),
                _button(texts.series_text, SeriesCb(SeriesAction.TEXT, item.id, page)),
                _button(texts.series_stop, SeriesCb(SeriesAction.STOP, item.id, page)),
            ]
        )
    return lines, rows, pages


def _line(texts: Texts, item: Series, waiting: MessageHistory | None, zone: str) -> Markup:
    rule = Rule.from_json(item.rule)
    if waiting is not None and waiting.scheduled_at is not None:
        following = display.when(waiting.scheduled_at, zone, texts)
        words = first_words(waiting, texts)
    else:
        following = texts.series_status_names[item.status.value]
        words = first_words(
            MessageHistory(
                kind=MessageKind(item.template["kind"]), text=item.template.get("text", "")
            ),
            texts,
        )
    return html(
        texts.series_line,
        id=item.id,
        rule=describe(texts, rule),
        next=following,
        made=item.made,
        words=words,
    )


async def begin_text(update: Update, context: HeraldContext) -> None:
    """Receives "Text" on a series: the next message the admin sends is the new text of this
    and the following occurrences (any other tap or /cancel ends the prompt)."""
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and query.data is not None and chat is not None
    assert context.user_data is not None
    data = SeriesCb.unpack(query.data)
    async with context.services.sessions() as session:
        found = await series.get(session, data.series_id)
    if found is None or found.status not in series.LIVE:
        await query.answer(context.texts.series_gone, show_alert=True)
        return
    await query.answer()
    context.user_data.series_text = data.series_id
    context.user_data.series_text_since = time.monotonic()
    await chat.send_message(html(context.texts.series_ask_text, id=data.series_id))


async def text_prompt(update: Update, context: HeraldContext) -> None:
    """Runs ahead of the flows while a series' new text is asked for: the admin's next message
    is it. A tap elsewhere ends the prompt (and goes on); a command is answered with what is
    waiting; /cancel ends it; an idle prompt ends after the flow timeout."""
    user_data, user = context.user_data, update.effective_user
    if user_data is None or user is None or user_data.series_text is None:
        return
    series_id = user_data.series_text
    texts = context.texts
    chat = update.effective_chat
    idle = time.monotonic() - user_data.series_text_since
    if idle > context.services.conversation_timeout:
        user_data.series_text = None
        if chat is not None:
            await chat.send_message(texts.series_text_cancelled)
        return
    query = update.callback_query
    if query is not None:
        if not SeriesCb.matches(lambda d: d.action is SeriesAction.TEXT)(query.data):
            user_data.series_text = None
        return
    message = update.message
    if message is None:
        return
    if (message.text or "").startswith("/"):
        if commands.is_cancel(message.text):
            user_data.series_text = None
            await message.reply_text(texts.series_text_cancelled)
        else:
            await message.reply_text(html(texts.series_text_busy, id=series_id))
        raise ApplicationHandlerStop
    if await _take_text(message, context, user.id, series_id):
        user_data.series_text = None
    raise ApplicationHandlerStop


async def _take_text(
    message: Message, context: HeraldContext, admin_id: int, series_id: int
) -> bool:
    """The new text, checked and stored; False when the admin must send it again."""
    texts = context.texts
    sent = await read_content(message, texts)
    if sent is None:
        return False
    if sent.kind is not MessageKind.TEXT:
        await message.reply_text(texts.series_text_only)
        return False
    async with context.services.sessions() as session:
        found = await series.get(session, series_id)
    is_text = found is not None and found.template["kind"] == MessageKind.TEXT.value
    if not is_text and len(sent.text) > CAPTION_LIMIT:
        await message.reply_text(
            html(texts.content_too_long, length=len(sent.text), limit=CAPTION_LIMIT)
        )
        return False
    changed = await context.services.dispatcher.series_text(
        series_id, sent.text, list(sent.entities), admin_id
    )
    await message.reply_text(
        html(texts.series_text_ok if changed else texts.series_gone, id=series_id)
    )
    return True


def handlers() -> Handlers:
    """Skip, Pause, Resume and Stop are answered by /scheduled (bot.handlers.queue);
    `text_prompt` is registered in a group of its own, ahead of the flows (see bot.app)."""
    return [
        CallbackQueryHandler(
            begin_text, pattern=SeriesCb.matches(lambda d: d.action is SeriesAction.TEXT)
        )
    ]
