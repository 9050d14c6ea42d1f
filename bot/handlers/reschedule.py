"""Moving a queued message in time: "Time" in /scheduled opens a short conversation of its own,
so a message draft in progress stays as it was."""

from __future__ import annotations

import enum
import warnings

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import commands
from bot.callbacks import ComposeAction, QueueAction, QueueCb, RescheduleCb
from bot.compose import Draft, UserData
from bot.context import Handlers, HeraldContext
from bot.handlers import when
from bot.scheduling import display
from bot.scheduling.timeparse import Reading
from bot.texts.render import html
from db.models import MessageStatus
from db.repo import messages

END = ConversationHandler.END


class RescheduleStep(enum.IntEnum):
    WHEN = 1
    CONFIRM = 2


def _draft(user_data: UserData) -> Draft | None:
    return user_data.reschedule


async def _keep(update: Update, context: HeraldContext, draft: Draft) -> int:
    """Back, /cancel or idle: the message keeps the time it had."""
    assert update.effective_chat is not None and context.user_data is not None
    context.user_data.reschedule = None
    await update.effective_chat.send_message(
        html(context.texts.reschedule_kept, id=draft.rescheduling)
    )
    return END


async def _moved(
    update: Update, context: HeraldContext, draft: Draft, reading: Reading, zone: str
) -> int:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None and draft.rescheduling is not None
    assert context.user_data is not None
    texts = context.texts
    message_id = draft.rescheduling
    status = await context.services.dispatcher.reschedule(message_id, reading.utc, user.id)
    if status is None:
        now = context.services.clock()
        when_text = display.when(reading.utc, zone, texts, now)
        text = html(texts.rescheduled, id=message_id, when=when_text)
    else:
        text = html(texts.sched_gone, id=message_id, status=texts.message_status_names[status])
    await chat.send_message(text)
    context.user_data.reschedule = None
    return END


FLOW = when.WhenFlow(
    RescheduleStep.WHEN, RescheduleStep.CONFIRM, _draft, _keep, _moved, RescheduleCb
)


async def begin(update: Update, context: HeraldContext) -> int:
    """Receives "Time" on a queued message; asks for its new time."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    assert context.user_data is not None
    texts = context.texts
    message_id = QueueCb.unpack(query.data).message_id
    async with context.services.sessions() as session:
        message = await messages.get(session, message_id)
    if message is None or message.status is not MessageStatus.SCHEDULED:
        status = message.status.value if message is not None else MessageStatus.CANCELLED.value
        await query.answer(
            texts.sched_gone.format(id=message_id, status=texts.message_status_names[status]),
            show_alert=True,
        )
        return END
    await query.answer()
    assert message.scheduled_at is not None and update.effective_chat is not None
    draft = Draft(rescheduling=message_id)
    context.user_data.reschedule = draft
    zone = await when.admin_zone(context, user.id)
    now = context.services.clock()
    await update.effective_chat.send_message(
        html(
            texts.ask_new_time,
            id=message_id,
            when=display.when(message.scheduled_at, zone, texts, now),
        )
    )
    return await when.ask(FLOW, update, context, draft)


async def cancel(update: Update, context: HeraldContext) -> int:
    """Receives /cancel: the message keeps its time."""
    assert context.user_data is not None
    draft = context.user_data.reschedule
    if draft is None:
        return END
    return await _keep(update, context, draft)


async def timed_out(update: Update, context: HeraldContext) -> None:
    assert context.user_data is not None
    draft = context.user_data.reschedule
    context.user_data.reschedule = None
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is not None and draft is not None:
        await chat.send_message(html(context.texts.reschedule_timed_out, id=draft.rescheduling))


async def hint(update: Update, context: HeraldContext) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(context.texts.time_problems["unreadable"])


async def busy(update: Update, context: HeraldContext) -> None:
    """Another command while a new time is asked for: say what is waiting."""
    assert context.user_data is not None
    draft = context.user_data.reschedule
    if update.effective_message is not None and draft is not None:
        await update.effective_message.reply_text(
            html(context.texts.reschedule_busy, id=draft.rescheduling)
        )


def conversation(timeout: float) -> ConversationHandler[HeraldContext]:
    text = filters.TEXT & ~filters.COMMAND
    other = ~filters.COMMAND & ~filters.TEXT
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*per_message.*")
        return ConversationHandler(
            entry_points=[
                CallbackQueryHandler(
                    begin,
                    pattern=QueueCb.matches(lambda d: d.action is QueueAction.RESCHEDULE),
                )
            ],
            states={
                RescheduleStep.WHEN: [
                    MessageHandler(text, when.typed(FLOW)),
                    MessageHandler(other, hint),
                    MessageHandler(commands.OTHER_THAN_CANCEL, busy),
                    CallbackQueryHandler(
                        when.tap(FLOW),
                        pattern=RescheduleCb.matches(
                            lambda d: d.action in (ComposeAction.QUICK_TIME, ComposeAction.BACK)
                        ),
                    ),
                ],
                RescheduleStep.CONFIRM: [
                    MessageHandler(text, when.typed(FLOW)),
                    MessageHandler(other, hint),
                    CallbackQueryHandler(
                        when.tap(FLOW),
                        pattern=RescheduleCb.matches(
                            lambda d: (
                                d.action
                                in (
                                    ComposeAction.SCHEDULE_OK,
                                    ComposeAction.OTHER_TIME,
                                    ComposeAction.BACK,
                                )
                            )
                        ),
                    ),
                ],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[CommandHandler(commands.CANCEL, cancel)],
            conversation_timeout=timeout,
            name="reschedule",
        )


def handlers(timeout: float) -> Handlers:
    return [conversation(timeout)]
