"""How a delivery looks in the admin's chat: its header, the live progress, the final report,
the list of people not reached, and the buttons under each. The engine knows none of this."""

from __future__ import annotations

import enum
import math
from datetime import datetime

from markupsafe import Markup
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import CallbackData, DeliveryAction, DeliveryCb, HistoryAction, HistoryCb
from bot.delivery.engine import Tally
from bot.texts import Texts
from bot.texts.render import echo, html, join
from bot.views import first_words, recipients_summary
from db.models import DeliveryStatus, MessageHistory, MessageStatus, User, full_name
from db.repo.audience import Selection

BAR_WIDTH = 10
ERROR_SHOWN = 200


class RunKind(enum.StrEnum):
    """What started a run, as its header says."""

    NOW = "now"
    SCHEDULED = "scheduled"
    RETRY = "retry"


def header(texts: Texts, message: MessageHistory, titles: dict[int, str], kind: RunKind) -> Markup:
    """`#12 · «first words» → 3rd stream · scheduled`: which message a screen is about (for
    an edit, delete or pin for everyone: the broadcast's number and what the run does)."""
    label = texts.run_kinds[kind.value]
    if message.action is not None:
        label = texts.everyone_names[message.action.value]
    return html(
        texts.run_header,
        id=message.parent_id or message.id,
        words=first_words(message, texts),
        to=recipients_summary(Selection.from_json(message.selection), titles, texts),
        kind=f" · {label}" if label else "",
    )


def duration(texts: Texts, seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return texts.duration_hours.format(h=hours, m=minutes)
    if minutes:
        template = texts.duration_minutes if secs else texts.duration_whole_minutes
        return template.format(m=minutes, s=secs)
    return texts.duration_seconds.format(s=secs)


def progress_text(
    texts: Texts,
    top: Markup,
    title: str,
    tally: Tally,
    rate: float | None,
    paused: float,
    stopping: bool,
) -> Markup:
    """`sent/total` and a bar; the rate and time left once there is a rate; a pause; a stop.
    `title` is the line with the counts ("Sending: {done} of {total}", or "Editing: ...")."""
    if not tally.total:
        return join([top, html(texts.progress_preparing)])
    share = tally.done / tally.total
    filled = math.floor(share * BAR_WIDTH)
    lines = [
        top,
        html(title, done=tally.done, total=tally.total),
        f"{'▓' * filled}{'░' * (BAR_WIDTH - filled)} {math.floor(share * 100)}%",
    ]
    if rate:
        left = (tally.total - tally.done) / rate
        lines.append(
            html(
                texts.progress_rate,
                rate=texts.decimal(rate),
                left=duration(texts, left),
            )
        )
    if paused > 0:
        lines.append(html(texts.progress_paused, seconds=math.ceil(paused)))
    if stopping:
        lines.append(html(texts.progress_stopping))
    return join(lines)


def report_text(texts: Texts, top: Markup, message: MessageHistory, tally: Tally) -> Markup:
    """The final report, from the counters kept on the message row."""
    title = {
        MessageStatus.DONE: texts.report_done,
        MessageStatus.STOPPED: texts.report_stopped,
        MessageStatus.SENDING: texts.report_sending,
    }.get(message.status, texts.report_failed)
    counted = texts.report_delivered
    if message.action is not None:
        title = texts.everyone_report.get(message.status.value, texts.everyone_report["failed"])
        counted = texts.everyone_done[message.action.value]
    lines = [
        top,
        html(title),
        html(counted, delivered=tally.delivered, total=tally.total),
        html(
            texts.report_counts,
            failed=tally.failed,
            blocked=tally.blocked,
            unconfirmed=tally.unconfirmed,
            cancelled=tally.cancelled,
        ),
    ]
    acting = message.action is not None
    if tally.total > tally.done:
        not_tried = texts.everyone_not_tried if acting else texts.report_not_tried
        lines.append(html(not_tried, n=tally.total - tally.done))
    if message.resumed_in_doubt is not None:
        resumed = texts.everyone_resumed if acting else texts.report_resumed
        lines.append(html(resumed, n=message.resumed_in_doubt))
    seconds = _seconds(message.started_at, message.finished_at)
    if seconds is not None:
        lines.append(html(texts.report_duration, duration=duration(texts, seconds)))
    return join(lines)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def not_reached(tally: Tally) -> int:
    """People a stopped run never reached: cancelled, or never tried."""
    return tally.cancelled + (tally.total - tally.done)


def person(user: User | None, user_id: int, username: str | None) -> Markup:
    """A person as one HTML line: name, @username and id."""
    name = full_name(user.first_name, user.last_name) if user else ""
    handle = f" @{username}" if username else ""
    return html("{name}{handle} (<code>{id}</code>)", name=name or "—", handle=handle, id=user_id)


def reason(texts: Texts, status: DeliveryStatus, error: str | None) -> str:
    """Why someone was not reached, in the admin's words rather than Telegram's; an error
    Herald has no words for is quoted as Telegram gave it."""
    named = texts.status_names[status.value]
    if not error:
        return named
    lowered = error.lower()
    known = next(
        (text for key, text in texts.telegram_errors.items() if key.lower() in lowered), None
    )
    return known or f"{named}: {echo(error, ERROR_SHOWN)}"


# ----- buttons -------------------------------------------------------------------------------


def _button(label: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data.pack())


def progress_keyboard(texts: Texts, message_id: int, stopping: bool) -> InlineKeyboardMarkup | None:
    if stopping:
        return None
    return InlineKeyboardMarkup(
        [[_button(texts.button_stop, DeliveryCb(DeliveryAction.STOP, message_id))]]
    )


def report_keyboard(
    texts: Texts, message: MessageHistory, tally: Tally
) -> InlineKeyboardMarkup | None:
    """Failures, Retry failed, after a Stop: send to the people not reached; then the way to
    the message's card (where it is edited, deleted or pinned for everyone)."""
    rows: list[list[InlineKeyboardButton]] = []
    if tally.failed + tally.blocked + tally.unconfirmed:
        rows.append(
            [_button(texts.button_failures, DeliveryCb(DeliveryAction.FAILURES, message.id))]
        )
    if tally.failed + tally.unconfirmed:
        rows.append([_button(texts.button_retry, DeliveryCb(DeliveryAction.RETRY, message.id))])
    missed = not_reached(tally)
    if missed:
        phrase = texts.button_resend if message.action is None else texts.button_continue
        label = texts.plural(phrase, missed)
        rows.append([_button(label, DeliveryCb(DeliveryAction.RESEND, message.id))])
    if message.parent_id is not None:
        card = HistoryCb(HistoryAction.CARD, message_id=message.parent_id)
        rows.append([_button(texts.card_back_to, card)])
    elif tally.delivered and message.status is not MessageStatus.SENDING:
        card = HistoryCb(HistoryAction.CARD, message_id=message.id)
        rows.append([_button(texts.button_everyone, card)])
    return InlineKeyboardMarkup(rows) if rows else None


def back_button(texts: Texts, message_id: int, card: int) -> InlineKeyboardButton:
    """Back to where the delivery screen was opened: the history card, or the report."""
    if card:
        return _button(texts.card_back_to, HistoryCb(HistoryAction.CARD, message_id=message_id))
    return _button(texts.button_to_report, DeliveryCb(DeliveryAction.REPORT, message_id))


def failures_keyboard(
    texts: Texts, message_id: int, page: int, pages: int, card: int
) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    if pages > 1:

        def at(n: int) -> DeliveryCb:
            return DeliveryCb(DeliveryAction.FAILURES_PAGE, message_id, n, card)

        nav: list[InlineKeyboardButton] = []
        if page > 0:
            nav.append(_button("◀", at(page - 1)))
        nav.append(_button(f"{page + 1}/{pages}", at(page)))
        if page + 1 < pages:
            nav.append(_button("▶", at(page + 1)))
        rows.append(nav)
    rows.append([back_button(texts, message_id, card)])
    return InlineKeyboardMarkup(rows)


def retry_choice(
    texts: Texts, message_id: int, surely: int, doubt: int, card: int
) -> InlineKeyboardMarkup:
    """Retry with people in doubt: everyone (they may get it twice), or only the surely missed."""
    rows = [
        [
            _button(
                texts.retry_all.format(n=surely + doubt),
                DeliveryCb(DeliveryAction.RETRY_ALL, message_id, card=card),
            )
        ]
    ]
    if surely:
        rows.append(
            [
                _button(
                    texts.retry_surely.format(n=surely),
                    DeliveryCb(DeliveryAction.RETRY_FAILED, message_id, card=card),
                )
            ]
        )
    rows.append([back_button(texts, message_id, card)])
    return InlineKeyboardMarkup(rows)
