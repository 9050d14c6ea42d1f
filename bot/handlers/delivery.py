"""Buttons on progress messages and reports: Stop, Failures (paged), Retry failed."""

from __future__ import annotations

import math

from telegram import Update

from bot import keyboards
from bot.callbacks import DeliveryAction, DeliveryCb
from bot.context import HeraldContext
from bot.delivery.report import person
from bot.handlers.screens import redraw
from bot.texts.render import echo, html
from db.models import AuditAction, DeliveryStatus
from db.repo import audit, messages

FAILURES_PER_PAGE = 10
ERROR_SHOWN = 200


async def delivery_tap(update: Update, context: HeraldContext) -> None:
    """Receives Stop, Failures or Retry failed for one stored message."""
    query = update.callback_query
    user = update.effective_user
    if query is None or query.data is None or user is None:
        return
    data = DeliveryCb.unpack(query.data)
    if data.action is DeliveryAction.STOP:
        await _stop(update, context, data)
    elif data.action in (DeliveryAction.FAILURES, DeliveryAction.FAILURES_PAGE):
        await _failures(update, context, data)
    elif data.action is DeliveryAction.RETRY_CANCEL:
        assert query.message is not None
        await query.answer()
        await redraw(query, context.texts.retry_cancelled, None)
    else:
        await _retry(update, context, data)


async def _stop(update: Update, context: HeraldContext, data: DeliveryCb) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    services = context.services
    if not services.broadcaster.stop(data.message_id):
        await query.answer(context.texts.delivery_not_running, show_alert=True)
        return
    async with services.sessions.begin() as session:
        await audit.record(
            session,
            user.id,
            AuditAction.STOP,
            services.clock(),
            target=f"message {data.message_id}",
        )
    await query.answer(context.texts.delivery_stopping)


async def _failures(update: Update, context: HeraldContext, data: DeliveryCb) -> None:
    query = update.callback_query
    assert query is not None
    texts = context.texts
    async with context.services.sessions() as session:
        rows, total = await messages.not_reached(
            session, data.message_id, FAILURES_PER_PAGE, data.page * FAILURES_PER_PAGE
        )
    await query.answer()
    pages = max(1, math.ceil(total / FAILURES_PER_PAGE))
    lines = [html(texts.failures_title, id=data.message_id, count=total)]
    for recipient, person_row in rows:
        reason = texts.status_names[recipient.status.value]
        if recipient.error:
            reason += f": {echo(recipient.error, ERROR_SHOWN)}"
        who = person(person_row, recipient.user_id, recipient.username)
        lines.append(html("• {who} — {reason}", who=who, reason=reason))
    if not rows:
        lines.append(html(texts.failures_none))
    text = "\n".join(lines)
    markup = keyboards.failures(texts, data.message_id, data.page, pages)
    if data.action is DeliveryAction.FAILURES_PAGE:
        await redraw(query, text, markup)
    else:
        chat = update.effective_chat
        assert chat is not None
        await chat.send_message(text, reply_markup=markup)


async def _retry(update: Update, context: HeraldContext, data: DeliveryCb) -> None:
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    assert query is not None and user is not None and chat is not None
    texts = context.texts
    broadcaster = context.services.broadcaster
    if data.action is DeliveryAction.RETRY:
        counts = await broadcaster.counts(data.message_id)
        doubt = counts.get(DeliveryStatus.UNCONFIRMED, 0)
        surely = counts.get(DeliveryStatus.FAILED, 0) + counts.get(DeliveryStatus.PENDING, 0)
        if doubt:
            await query.answer()
            await chat.send_message(
                html(
                    texts.retry_doubt,
                    surely=texts.plural(texts.people, surely),
                    doubt=texts.plural(texts.people, doubt),
                ),
                reply_markup=keyboards.retry_choice(texts, data.message_id, surely, doubt),
            )
            return
    in_doubt = data.action is not DeliveryAction.RETRY_FAILED
    message = await broadcaster.retry_failed(data.message_id, user.id, in_doubt)
    if message is None:
        await query.answer(texts.retry_nothing, show_alert=True)
        return
    await query.answer()
    progress = await chat.send_message(texts.progress_starting)
    broadcaster.start(message, chat.id, progress.message_id)
