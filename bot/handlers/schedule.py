"""The "when" steps of the conversation: schedule a draft, or move a queued message in time."""

from __future__ import annotations

from telegram import Update

from bot import keyboards
from bot.callbacks import ComposeAction, QueueCb
from bot.compose import Draft
from bot.context import HeraldContext
from bot.handlers.compose import END, Step, chat_of, draft_of, show_review, tapped
from bot.scheduling import display
from bot.scheduling.timeparse import (
    QUICK_CHOICES,
    Problem,
    Reading,
    TimeError,
    parse_when,
    quick_choices,
)
from bot.texts.render import html
from db.models import MessageStatus
from db.repo import admins, messages


async def admin_zone(context: HeraldContext, admin_id: int) -> str:
    async with context.services.sessions() as session:
        return await admins.zone_for(session, admin_id, context.services.config.bot.timezone)


async def ask_when(update: Update, context: HeraldContext, draft: Draft) -> Step:
    """Asks for a time: quick choices that are still ahead, or a typed time."""
    user = update.effective_user
    assert user is not None
    texts = context.texts
    zone = await admin_zone(context, user.id)
    now = context.services.clock()
    choices = [index for index, _ in quick_choices(now, zone)]
    await chat_of(update).send_message(
        html(texts.ask_when, zone=zone, now=display.clock(now, zone, texts)),
        reply_markup=keyboards.when_choices(texts, draft.id, choices),
    )
    return Step.WHEN


async def begin(update: Update, context: HeraldContext) -> Step | None:
    """Receives "Schedule" on the review; asks when."""
    found = await tapped(update, context)
    if found is None:
        return None
    assert update.callback_query is not None
    await update.callback_query.answer()
    return await ask_when(update, context, found[0])


async def begin_reschedule(update: Update, context: HeraldContext) -> Step | int:
    """Receives "Time" on a queued message; starts a small draft that only changes its time."""
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
    assert message.scheduled_at is not None
    draft = Draft(rescheduling=message_id)
    context.user_data.draft = draft
    zone = await admin_zone(context, user.id)
    await chat_of(update).send_message(
        html(
            texts.ask_new_time, id=message_id, when=display.when(message.scheduled_at, zone, texts)
        )
    )
    return await ask_when(update, context, draft)


async def _confirm(update: Update, context: HeraldContext, draft: Draft, reading: Reading) -> Step:
    user = update.effective_user
    assert user is not None
    texts = context.texts
    zone = await admin_zone(context, user.id)
    draft.when = reading
    text = html(texts.confirm_schedule, when=display.when(reading.utc, zone, texts))
    if reading.ambiguous:
        local = display.local_time(reading.utc, zone, texts)
        text += "\n" + html(texts.ambiguous_note, local=local)
    await chat_of(update).send_message(text, reply_markup=keyboards.when_confirm(texts, draft.id))
    return Step.WHEN_CONFIRM


def _problem_text(context: HeraldContext, error: TimeError, zone: str) -> str:
    texts = context.texts
    text = texts.time_problems[error.problem.value]
    if error.problem is Problem.MISSING and error.local is not None:
        return text.format(local=error.local.strftime("%d.%m.%Y %H:%M"), zone=zone)
    return text


async def got_when(update: Update, context: HeraldContext) -> Step:
    """Receives a typed time; refuses what cannot be used and says what to type instead."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and message.text is not None and user is not None
    draft = draft_of(context)
    zone = await admin_zone(context, user.id)
    try:
        reading = parse_when(message.text, context.services.clock(), zone)
    except TimeError as error:
        await message.reply_text(_problem_text(context, error, zone))
        return Step.WHEN
    return await _confirm(update, context, draft, reading)


async def when_tap(update: Update, context: HeraldContext) -> Step | int | None:
    """Receives a quick choice, "Schedule", "Another time" or "Back"."""
    found = await tapped(update, context)
    if found is None:
        return None
    draft, data = found
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    texts = context.texts
    services = context.services
    zone = await admin_zone(context, user.id)
    now = services.clock()
    if data.action is ComposeAction.QUICK_TIME:
        await query.answer()
        if not 0 <= data.arg < len(QUICK_CHOICES):
            return Step.WHEN
        try:
            quick = parse_when(QUICK_CHOICES[data.arg], now, zone)
        except TimeError as error:
            await chat_of(update).send_message(_problem_text(context, error, zone))
            return Step.WHEN
        return await _confirm(update, context, draft, quick)
    if data.action is ComposeAction.OTHER_TIME:
        await query.answer()
        return await ask_when(update, context, draft)
    if data.action is ComposeAction.BACK:
        await query.answer()
        if draft.rescheduling is not None:
            await chat_of(update).send_message(texts.compose_cancelled)
            return END
        return await show_review(update, context)
    reading = draft.when
    if reading is None or reading.utc <= now:
        await query.answer(texts.time_problems[Problem.PAST.value], show_alert=True)
        return await ask_when(update, context, draft)
    await query.answer()
    if draft.rescheduling is not None:
        return await _moved(update, context, draft.rescheduling, reading, zone)
    assert draft.content is not None
    message = await services.broadcaster.schedule(
        user.id, draft.content, draft.selection, reading.utc
    )
    services.dispatcher.plan(message.id, reading.utc)
    await chat_of(update).send_message(
        html(texts.scheduled_ok, when=display.when(reading.utc, zone, texts), id=message.id),
    )
    assert context.user_data is not None
    context.user_data.draft = None
    return END


async def _moved(
    update: Update, context: HeraldContext, message_id: int, reading: Reading, zone: str
) -> int:
    user = update.effective_user
    assert user is not None
    texts = context.texts
    services = context.services
    status = await services.dispatcher.reschedule(message_id, reading.utc, user.id)
    if status is None:
        text = html(texts.rescheduled, id=message_id, when=display.when(reading.utc, zone, texts))
    else:
        text = html(texts.sched_gone, id=message_id, status=texts.message_status_names[status])
    await chat_of(update).send_message(text)
    assert context.user_data is not None
    context.user_data.draft = None
    return END
