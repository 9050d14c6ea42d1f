"""Buttons on progress messages and reports: Stop, Failures (paged), Retry failed."""

from __future__ import annotations

import math

from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot import keyboards
from bot.callbacks import DeliveryAction, DeliveryCb
from bot.context import Handlers, HeraldContext
from bot.delivery.everyone import Refusal
from bot.delivery.views import RunKind, failures_keyboard, person, reason, retry_choice
from bot.handlers.screens import redraw
from bot.texts.render import html, join
from db.models import AuditAction, DeliveryStatus
from db.repo import audit, messages
from db.repo.audit import Target

FAILURES_PER_PAGE = 10

RETRIED: dict[DeliveryAction, tuple[DeliveryStatus, ...]] = {
    DeliveryAction.RETRY: (DeliveryStatus.FAILED, DeliveryStatus.UNCONFIRMED),
    DeliveryAction.RETRY_ALL: (DeliveryStatus.FAILED, DeliveryStatus.UNCONFIRMED),
    DeliveryAction.RETRY_FAILED: (DeliveryStatus.FAILED,),
    DeliveryAction.RESEND: (DeliveryStatus.CANCELLED,),
}
"""Who each retry button sends to again (people never tried always go too)."""


async def delivery_tap(update: Update, context: HeraldContext) -> None:
    """Receives Stop, Failures (paged), Report, Retry or Resend for one stored message; every
    screen is drawn in the message the button sat under."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    data = DeliveryCb.unpack(query.data)
    if data.action is DeliveryAction.STOP:
        await _stop(update, context, data)
    elif data.action in (DeliveryAction.FAILURES, DeliveryAction.FAILURES_PAGE):
        await _failures(update, context, data)
    elif data.action is DeliveryAction.REPORT:
        await query.answer()
        await _show_report(update, context, data.message_id)
    else:
        await _retry(update, context, data)


async def _show_report(update: Update, context: HeraldContext, message_id: int) -> None:
    query = update.callback_query
    assert query is not None
    broadcaster = context.services.broadcaster
    async with context.services.sessions() as session:
        message = await messages.get(session, message_id)
    if message is None:
        return
    kind = RunKind.SCHEDULED if message.scheduled_at else RunKind.NOW
    texts = context.texts
    top = await broadcaster.header(message_id, kind, texts)
    text, markup = broadcaster.report(message, top, texts)
    await redraw(query, text, markup)


async def _stop(update: Update, context: HeraldContext, data: DeliveryCb) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    services = context.services
    texts = context.texts
    if not services.broadcaster.stop(data.message_id):
        await query.answer(texts.delivery_not_running, show_alert=True)
        return
    paused = services.broadcaster.paused_for
    if paused > 0:
        await query.answer(texts.delivery_stopping_paused.format(seconds=math.ceil(paused)))
    else:
        await query.answer(texts.delivery_stopping)
    async with services.sessions.begin() as session:
        await audit.record(
            session,
            user.id,
            AuditAction.STOP,
            services.clock(),
            target=Target(message=data.message_id),
        )


async def _failures(update: Update, context: HeraldContext, data: DeliveryCb) -> None:
    query = update.callback_query
    assert query is not None
    texts = context.texts
    broadcaster = context.services.broadcaster
    async with context.services.sessions() as session:
        rows, total = await messages.not_reached(
            session,
            data.message_id,
            FAILURES_PER_PAGE,
            keyboards.page_start(data.page, FAILURES_PER_PAGE),
        )
    await query.answer()
    pages = max(1, math.ceil(total / FAILURES_PER_PAGE))
    top = await broadcaster.header(data.message_id, RunKind.NOW, texts)
    lines = [top, html(texts.failures_title, count=total)]
    for recipient, person_row in rows:
        who = person(person_row, recipient.user_id, recipient.username)
        why = reason(texts, recipient.status, recipient.error)
        lines.append(html("• {who} — {why}", who=who, why=why))
    if not rows:
        lines.append(html(texts.failures_none))
    markup = failures_keyboard(texts, data.message_id, data.page, pages, data.card)
    await redraw(query, join(lines), markup)


async def _retry(update: Update, context: HeraldContext, data: DeliveryCb) -> None:
    """Retry or Resend: asks first when people in doubt would get the message again, then
    turns the message the button sat under into the progress and the new report."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    texts = context.texts
    broadcaster = context.services.broadcaster
    async with context.services.sessions() as session:
        stored = await messages.get(session, data.message_id)
    # Repeating an edit, delete or pin changes nothing, so people in doubt simply go again.
    if data.action is DeliveryAction.RETRY and stored is not None and stored.action is None:
        counts = await broadcaster.counts(data.message_id)
        doubt = counts.get(DeliveryStatus.UNCONFIRMED, 0)
        surely = counts.get(DeliveryStatus.FAILED, 0) + counts.get(DeliveryStatus.PENDING, 0)
        if doubt:
            await query.answer()
            top = await broadcaster.header(data.message_id, RunKind.RETRY, texts)
            question = html(
                texts.retry_doubt,
                surely=texts.plural(texts.people, surely),
                doubt=texts.plural(texts.people, doubt),
            )
            await redraw(
                query,
                join([top, question]),
                retry_choice(texts, data.message_id, surely, doubt, data.card),
            )
            return
    message = await broadcaster.retry(data.message_id, user.id, RETRIED[data.action])
    if isinstance(message, Refusal):
        await query.answer(texts.everyone_refused[message.value], show_alert=True)
        return
    if message is None:
        await query.answer(texts.retry_nothing, show_alert=True)
        await _show_report(update, context, data.message_id)
        return
    progress = query.message
    assert progress is not None
    broadcaster.start(message, progress.chat.id, progress.message_id, RunKind.RETRY)
    await query.answer()


def handlers() -> Handlers:
    return [CallbackQueryHandler(delivery_tap, pattern=DeliveryCb.matches())]
