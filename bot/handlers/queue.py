"""/scheduled: the queue of messages waiting to go out, with Preview, Send now, Time, Cancel."""

from __future__ import annotations

import math

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import commands, keyboards
from bot.callbacks import MenuAction, MenuCb, QueueAction, QueueCb, SeriesAction, SeriesCb
from bot.context import Handlers, HeraldContext
from bot.delivery.content import Content, make_sender
from bot.handlers import series as series_view
from bot.handlers.screens import redraw
from bot.handlers.when import admin_zone
from bot.scheduling import display
from bot.texts.render import html
from bot.views import first_words, recipients_summary
from db.repo import messages, streams
from db.repo.audience import Selection

PER_PAGE = 5


async def render(
    context: HeraldContext, admin_id: int, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Repeating schedules first, then the queue (a series' next occurrence is in it, 🔁)."""
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    async with context.services.sessions() as session:
        queued, total = await messages.scheduled(
            session, PER_PAGE, keyboards.page_start(page, PER_PAGE)
        )
        titles = {s.id: s.title for s in await streams.listed(session, include_archived=True)}
    repeating, series_rows, series_pages = await series_view.section(context, admin_id, page)
    if not total and not repeating:
        return texts.scheduled_empty, InlineKeyboardMarkup([keyboards.home_row(texts)])
    lines = [*repeating, html(texts.scheduled_title, count=total)]
    for message in queued:
        assert message.scheduled_at is not None
        lines.append(
            html(
                texts.scheduled_entry,
                mark="🔁 " if message.series_id is not None else "",
                id=message.id,
                when=display.when(message.scheduled_at, zone, texts),
                recipients=recipients_summary(
                    Selection.from_json(message.selection), titles, texts
                ),
                words=first_words(message, texts),
            )
        )
    pages = max(1, math.ceil(total / PER_PAGE), series_pages)
    markup = keyboards.queue(texts, [m.id for m in queued], page, pages)
    markup = InlineKeyboardMarkup([*series_rows, *markup.inline_keyboard])
    return "\n\n".join(lines), markup


async def scheduled_command(update: Update, context: HeraldContext) -> None:
    """Receives /scheduled or the menu button; lists the queue, soonest first."""
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    if update.callback_query is not None:
        await update.callback_query.answer()
    text, markup = await render(context, user.id, 0)
    await chat.send_message(text, reply_markup=markup)


async def queue_tap(update: Update, context: HeraldContext) -> None:
    """Receives a tap in the list: page, preview, send now or cancel (each asks first)."""
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    assert query is not None and query.data is not None and user is not None and chat is not None
    data = QueueCb.unpack(query.data)
    texts = context.texts
    dispatcher = context.services.dispatcher
    action = data.action
    if action is QueueAction.LIST:
        await query.answer()
        text, markup = await render(context, user.id, data.page)
        await redraw(query, text, markup)
        return
    async with context.services.sessions() as session:
        message = await messages.get(session, data.message_id)
    if message is None or message.scheduled_at is None:
        await query.answer(texts.menu_expired, show_alert=True)
        return
    if action is QueueAction.PREVIEW:
        await query.answer()
        await make_sender(context.bot, Content.of(message))(chat.id)
        return
    zone = await admin_zone(context, user.id)
    when_text = display.when(message.scheduled_at, zone, texts)
    if action in (QueueAction.SEND, QueueAction.CANCEL):
        await query.answer()
        question = (
            texts.sched_confirm_send if action is QueueAction.SEND else texts.sched_confirm_cancel
        )
        await redraw(
            query,
            question.format(id=message.id, when=when_text),
            keyboards.queue_confirm(texts, action, message.id, data.page),
        )
        return
    if action is QueueAction.SEND_OK:
        problem = await dispatcher.send_now(message.id, user.id)
    else:
        problem = await dispatcher.cancel(message.id, user.id)
    if problem is not None:
        await query.answer(
            texts.sched_gone.format(id=message.id, status=texts.message_status_names[problem]),
            show_alert=True,
        )
    else:
        await query.answer()
        if action is QueueAction.CANCEL_OK:
            await chat.send_message(html(texts.sched_cancelled, id=message.id))
    text, markup = await render(context, user.id, data.page)
    await redraw(query, text, markup)


async def series_tap(update: Update, context: HeraldContext) -> None:
    """Receives Skip, Pause, Resume, Stop (asks first) and its confirmation."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    data = SeriesCb.unpack(query.data)
    texts = context.texts
    if data.action is SeriesAction.STOP:
        await query.answer()
        back = QueueCb(QueueAction.LIST, 0, data.page)
        yes = SeriesCb(SeriesAction.STOP_OK, data.series_id, data.page)
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(texts.button_back, callback_data=back.pack()),
                    InlineKeyboardButton(texts.series_yes_stop, callback_data=yes.pack()),
                ]
            ]
        )
        await redraw(query, html(texts.series_confirm_stop, id=data.series_id), markup)
        return
    done = await context.services.dispatcher.series_action(
        data.series_id, series_view.ACTIONS[data.action], user.id, data.occurrence
    )
    if done:
        await query.answer(texts.series_done[data.action.value])
    else:
        await query.answer(texts.series_gone, show_alert=True)
    await redraw(query, *await render(context, user.id, data.page))


def handlers() -> Handlers:
    """Reschedule and a series' Text are not here: each opens its own conversation
    (bot.handlers.reschedule, bot.handlers.series)."""
    return [
        CallbackQueryHandler(
            series_tap, pattern=SeriesCb.matches(lambda d: d.action is not SeriesAction.TEXT)
        ),
        CommandHandler(commands.SCHEDULED, scheduled_command),
        CallbackQueryHandler(scheduled_command, pattern=MenuCb(MenuAction.SCHEDULED).pack()),
        CallbackQueryHandler(
            queue_tap, pattern=QueueCb.matches(lambda d: d.action is not QueueAction.RESCHEDULE)
        ),
    ]
