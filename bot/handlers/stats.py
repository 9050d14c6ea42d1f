"""/stats: the audience and how messages reached it, for 7 days, 30 days or all time."""

from __future__ import annotations

from datetime import timedelta

from babel.numbers import format_percent
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import commands, keyboards
from bot.callbacks import MenuAction, MenuCb, Period, StatsCb
from bot.context import Handlers, HeraldContext
from bot.delivery.views import duration, reason
from bot.handlers.screens import redraw
from bot.texts import Texts
from bot.texts.render import capped, html, more
from db.repo import inbox, stats

DAYS = {Period.WEEK: 7, Period.MONTH: 30}
LIST_MOST = 10
"""Lines per list (streams, reasons): enough to read on a phone, and the screen fits."""


def rate(texts: Texts, part: int, whole: int) -> str:
    return format_percent(part / whole if whole else 0, "#,##0.0%", locale=texts.language)


async def render(context: HeraldContext, period: Period) -> str:
    texts = context.texts
    services = context.services
    days = DAYS.get(period)
    since = services.clock() - timedelta(days=days) if days else None
    async with services.sessions() as session:
        people = await stats.audience(session, since)
        sent = await stats.messaging(session, since)
        replies = await inbox.replies(session, since)
    lines = [
        html(texts.stats_title, period=texts.period_names[period.value]),
        "",
        html(
            texts.stats_audience,
            registered=people.registered,
            blocked=people.blocked,
            no_stream=people.no_stream,
            new=people.new,
        ),
        *capped(
            [html(texts.stats_line, name=title, n=n) for title, n in people.per_stream],
            LIST_MOST,
            more(texts),
        ),
        "",
        html(
            texts.stats_messaging,
            messages=sent.messages,
            recipients=sent.recipients,
            delivered=sent.delivered,
            rate=rate(texts, sent.delivered, sent.recipients),
            failed=sent.failed,
            blocked=sent.blocked,
            unconfirmed=sent.unconfirmed,
            cancelled=sent.cancelled,
            upcoming=sent.upcoming,
        ),
    ]
    if sent.failures:
        lines += ["", texts.stats_failures]
        reasons = []
        for status, error, n in sent.failures:
            reasons.append(html(texts.stats_line, name=reason(texts, status, error), n=n))
        lines += capped(reasons, LIST_MOST, more(texts))
    if sent.per_stream:
        lines += ["", texts.stats_per_stream]
        lines += capped(
            [
                html(
                    texts.stats_rate_line, name=title, delivered=d, total=t, rate=rate(texts, d, t)
                )
                for title, d, t in sent.per_stream
            ],
            LIST_MOST,
            more(texts),
        )
    if replies.received or services.config.bot.replies != "off":
        median = replies.median_seconds
        lines += [
            "",
            html(
                texts.stats_replies,
                received=replies.received,
                answered=replies.answered,
                median=duration(texts, median) if median is not None else texts.time_none,
            ),
        ]
    return "\n".join(lines)


async def stats_command(update: Update, context: HeraldContext) -> None:
    """Receives /stats or the menu button; shows the last 7 days."""
    chat = update.effective_chat
    assert chat is not None
    if update.callback_query is not None:
        await update.callback_query.answer()
    await chat.send_message(
        await render(context, Period.WEEK),
        reply_markup=keyboards.stats(context.texts, Period.WEEK),
    )


async def stats_tap(update: Update, context: HeraldContext) -> None:
    """Receives a period button; redraws the numbers for it."""
    query = update.callback_query
    assert query is not None and query.data is not None
    period = StatsCb.unpack(query.data).period
    await query.answer()
    await redraw(query, await render(context, period), keyboards.stats(context.texts, period))


def handlers() -> Handlers:
    return [
        CommandHandler(commands.STATS, stats_command),
        CallbackQueryHandler(stats_command, pattern=MenuCb(MenuAction.STATS).pack()),
        CallbackQueryHandler(stats_tap, pattern=StatsCb.matches()),
    ]
