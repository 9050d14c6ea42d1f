"""Repeating schedules in /scheduled: each series with its rule and next occurrence, and Skip
next, Pause / Resume, Text (this and following) and Stop. The text is a short conversation of
its own, like a new time for a queued message."""

from __future__ import annotations

import enum
import warnings

from markupsafe import Markup
from telegram import InlineKeyboardButton, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import commands
from bot.callbacks import QueueCb, SeriesAction, SeriesCb
from bot.context import Handlers, HeraldContext
from bot.handlers.content_input import read_content
from bot.handlers.repeat import describe
from bot.handlers.when import admin_zone
from bot.scheduling import display, series
from bot.scheduling.recurrence import Rule
from bot.texts import Texts
from bot.texts.render import html
from bot.views import first_words
from db.models import AuditAction, MessageHistory, MessageKind, Series, SeriesStatus

END = ConversationHandler.END

ACTIONS = {
    SeriesAction.SKIP: AuditAction.SERIES_SKIP,
    SeriesAction.PAUSE: AuditAction.SERIES_PAUSE,
    SeriesAction.RESUME: AuditAction.SERIES_RESUME,
    SeriesAction.STOP_OK: AuditAction.SERIES_STOP,
}


class TextStep(enum.IntEnum):
    WAIT = 1


def _button(label: str, data: SeriesCb | QueueCb) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data.pack())


async def section(
    context: HeraldContext, admin_id: int, page: int
) -> tuple[list[Markup], list[list[InlineKeyboardButton]]]:
    """The live series, one line and one row of buttons each (empty when there are none)."""
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    async with context.services.sessions() as session:
        found = await series.live(session)
        waiting = {s.id: await series.pending(session, s.id) for s in found}
    if not found:
        return [], []
    lines = [html(texts.series_title, count=len(found))]
    rows: list[list[InlineKeyboardButton]] = []
    for item in found:
        lines.append(_line(texts, item, waiting[item.id], zone))
        paused = item.status is SeriesStatus.PAUSED
        rows.append(
            [
                _button(texts.series_skip, SeriesCb(SeriesAction.SKIP, item.id, page)),
                _button(
                    texts.series_resume if paused else texts.series_pause,
                    SeriesCb(SeriesAction.RESUME if paused else SeriesAction.PAUSE, item.id, page),
                ),
                _button(texts.series_text, SeriesCb(SeriesAction.TEXT, item.id, page)),
                _button(texts.series_stop, SeriesCb(SeriesAction.STOP, item.id, page)),
            ]
        )
    return lines, rows


def _line(texts: Texts, item: Series, waiting: MessageHistory | None, zone: str) -> Markup:
    rule = Rule.from_json(item.rule)
    if waiting is not None and waiting.scheduled_at is not None:
        following = display.when(waiting.scheduled_at, zone, texts)
        words = first_words(waiting)
    else:
        following = texts.series_status_names[item.status.value]
        words = first_words(
            MessageHistory(
                kind=MessageKind(item.template["kind"]), text=item.template.get("text", "")
            )
        )
    return html(
        texts.series_line,
        id=item.id,
        rule=describe(texts, rule),
        next=following,
        made=item.made,
        words=words,
    )


async def begin_text(update: Update, context: HeraldContext) -> int | None:
    """Receives "Text" on a series: asks for the new text of this and following occurrences."""
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and query.data is not None and chat is not None
    assert context.user_data is not None
    data = SeriesCb.unpack(query.data)
    async with context.services.sessions() as session:
        found = await series.get(session, data.series_id)
    if found is None or found.status not in series.LIVE:
        await query.answer(context.texts.series_gone, show_alert=True)
        return None
    await query.answer()
    context.user_data.series_text = data.series_id
    await chat.send_message(html(context.texts.series_ask_text, id=data.series_id))
    return TextStep.WAIT


async def got_text(update: Update, context: HeraldContext) -> int:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None and context.user_data is not None
    series_id = context.user_data.series_text
    if series_id is None:
        return END
    texts = context.texts
    sent = await read_content(message, texts)
    if sent is None:
        return TextStep.WAIT
    if sent.kind is not MessageKind.TEXT:
        await message.reply_text(texts.series_text_only)
        return TextStep.WAIT
    async with context.services.sessions() as session:
        found = await series.get(session, series_id)
    is_text = found is not None and found.template["kind"] == MessageKind.TEXT.value
    if not is_text and len(sent.text) > 1024:
        await message.reply_text(html(texts.content_too_long, length=len(sent.text), limit=1024))
        return TextStep.WAIT
    changed = await context.services.dispatcher.series_text(
        series_id, sent.text, list(sent.entities), user.id
    )
    context.user_data.series_text = None
    await message.reply_text(
        html(texts.series_text_ok if changed else texts.series_gone, id=series_id)
    )
    return END


async def cancel_text(update: Update, context: HeraldContext) -> int:
    assert context.user_data is not None
    context.user_data.series_text = None
    if update.effective_message is not None:
        await update.effective_message.reply_text(context.texts.series_text_cancelled)
    return END


async def text_busy(update: Update, context: HeraldContext) -> None:
    assert context.user_data is not None
    series_id = context.user_data.series_text
    if update.effective_message is not None and series_id is not None:
        await update.effective_message.reply_text(
            html(context.texts.series_text_busy, id=series_id)
        )


async def text_timed_out(update: Update, context: HeraldContext) -> None:
    assert context.user_data is not None
    context.user_data.series_text = None


def conversation(timeout: float) -> ConversationHandler[HeraldContext]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*per_message.*")
        return ConversationHandler(
            entry_points=[
                CallbackQueryHandler(
                    begin_text,
                    pattern=SeriesCb.matches(lambda d: d.action is SeriesAction.TEXT),
                )
            ],
            states={
                TextStep.WAIT: [
                    MessageHandler(~filters.COMMAND, got_text),
                    MessageHandler(commands.OTHER_THAN_CANCEL, text_busy),
                ],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, text_timed_out)],
            },
            fallbacks=[CommandHandler(commands.CANCEL, cancel_text)],
            conversation_timeout=timeout,
            name="series_text",
            allow_reentry=True,
        )


def handlers(timeout: float) -> Handlers:
    """Skip, Pause, Resume and Stop are answered by /scheduled (bot.handlers.queue)."""
    return [conversation(timeout)]
