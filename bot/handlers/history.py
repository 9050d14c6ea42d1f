"""/history: messages newest first, filtered by type and by stream, each with its card."""

from __future__ import annotations

import math
import re
from datetime import datetime

from telegram import InlineKeyboardMarkup, InputFile, Update

from bot import keyboards
from bot.callbacks import HistoryAction, HistoryCb, HistoryKind
from bot.context import HeraldContext
from bot.delivery.content import Content, make_sender
from bot.exports import export_recipients
from bot.handlers.schedule import admin_zone
from bot.handlers.screens import redraw
from bot.scheduling import display
from bot.texts import Texts
from bot.texts.render import html, join
from bot.views import first_words, person_name, recipients_summary
from db.models import MessageHistory, RecipientType
from db.repo import admins, history, messages, streams
from db.repo.audience import EVERYONE, NO_STREAM, Selection, stream_target
from db.repo.history import HistoryFilter

PER_PAGE = 6
KINDS: dict[HistoryKind, RecipientType | None] = {
    HistoryKind.ALL: None,
    HistoryKind.INDIVIDUAL: RecipientType.INDIVIDUAL,
    HistoryKind.GROUP: RecipientType.GROUP,
    HistoryKind.MIXED: RecipientType.MIXED,
}


_STREAM_CODE = re.compile(r"s([0-9]{1,9})")


def _stream_code(code: str) -> int | None:
    match = _STREAM_CODE.fullmatch(code)
    return int(match.group(1)) if match else None


def to_filter(data: HistoryCb) -> HistoryFilter:
    """The repository filter a callback's short codes stand for (unknown codes mean "all")."""
    target: str | None = None
    if data.target == "e":
        target = EVERYONE
    elif data.target == "n":
        target = NO_STREAM
    elif (stream := _stream_code(data.target)) is not None:
        target = stream_target(stream)
    return HistoryFilter(kind=KINDS.get(data.kind), target=target)


def _target_name(code: str, titles: dict[int, str], texts: Texts) -> str:
    if code == "e":
        return texts.pick_everyone
    if code == "n":
        return texts.pick_no_stream
    if (stream := _stream_code(code)) is not None:
        return titles.get(stream, code)
    return texts.filter_all


def _kind_name(message: MessageHistory, texts: Texts) -> str:
    return texts.kind_names[message.recipient_type.value]


def _group(message: MessageHistory, titles: dict[int, str], texts: Texts) -> str:
    return recipients_summary(Selection.from_json(message.selection), titles, texts)


async def _titles(context: HeraldContext) -> dict[int, str]:
    async with context.services.sessions() as session:
        return {s.id: s.title for s in await streams.listed(session, include_archived=True)}


async def render_list(
    context: HeraldContext, admin_id: int, data: HistoryCb
) -> tuple[str, InlineKeyboardMarkup]:
    """One page of history with the filter and paging buttons."""
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    async with context.services.sessions() as session:
        found, total = await history.page(session, to_filter(data), PER_PAGE, data.page * PER_PAGE)
        names = await admins.names(session)
        stream_list = await streams.listed(session, include_archived=True)
    titles = {s.id: s.title for s in stream_list}
    kind = KINDS.get(data.kind)
    kind_label = texts.kind_names[kind.value if kind is not None else "a"]
    filters = html(
        texts.history_filters, kind=kind_label, target=_target_name(data.target, titles, texts)
    )
    lines = [join([html(texts.history_title, count=total), filters])]
    if not total:
        filtered = data.kind is not HistoryKind.ALL or data.target != "a"
        lines.append(html(texts.history_empty_filtered if filtered else texts.history_empty))
    for message in found:
        lines.append(
            html(
                texts.history_entry,
                id=message.id,
                when=display.local_time(_shown_time(message), zone, texts),
                author=person_name(names, message.author_id, texts),
                kind=_kind_name(message, texts),
                group=_group(message, titles, texts),
                words=first_words(message),
                delivered=message.delivered,
                total=message.total,
                status=texts.message_status_names[message.status.value],
            )
        )
    pages = max(1, math.ceil(total / PER_PAGE))
    active = [s for s in stream_list if not s.archived]
    markup = keyboards.history(texts, data, [m.id for m in found], pages, active)
    return "\n\n".join(lines), markup


async def history_command(update: Update, context: HeraldContext) -> None:
    """Receives /history or the menu button; shows the newest messages."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    if update.callback_query is not None:
        await update.callback_query.answer()
    text, markup = await render_list(context, user.id, HistoryCb(HistoryAction.LIST))
    await chat.send_message(text, reply_markup=markup)


async def history_tap(update: Update, context: HeraldContext) -> None:
    """Receives a filter, page, entry or card action (except "Use as new draft")."""
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    assert query is not None and query.data is not None and user is not None and chat is not None
    data = HistoryCb.unpack(query.data)
    if data.action is HistoryAction.LIST:
        await query.answer()
        text, markup = await render_list(context, user.id, data)
        await redraw(query, text, markup)
        return
    async with context.services.sessions() as session:
        message = await messages.get(session, data.message_id)
    if message is None:
        await query.answer(context.texts.menu_expired, show_alert=True)
        return
    await query.answer()
    if data.action is HistoryAction.EXPORT:
        await _export(context, chat.id, message)
        return
    await make_sender(context.bot, Content.of(message))(chat.id)
    text = await _card(context, user.id, message)
    await chat.send_message(
        text,
        reply_markup=keyboards.history_card(context.texts, data, message),
    )


def _shown_time(message: MessageHistory) -> datetime:
    """When the message went out, or is due, or was written."""
    return message.started_at or message.scheduled_at or message.created_at


def _moment(value: datetime | None, zone: str, texts: Texts) -> str:
    return display.when(value, zone, texts) if value is not None else texts.time_none


async def _card(context: HeraldContext, admin_id: int, message: MessageHistory) -> str:
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    async with context.services.sessions() as session:
        names = await admins.names(session)
    titles = await _titles(context)
    pending = message.total - (
        message.delivered
        + message.failed
        + message.blocked
        + message.unconfirmed
        + message.cancelled
    )
    return "\n".join(
        [
            html(
                texts.card_title,
                id=message.id,
                status=texts.message_status_names[message.status.value],
            ),
            html(texts.card_author, author=person_name(names, message.author_id, texts)),
            html(
                texts.card_recipients,
                group=_group(message, titles, texts),
                kind=_kind_name(message, texts),
                total=message.total,
            ),
            html(
                texts.card_times,
                created=_moment(message.created_at, zone, texts),
                scheduled=_moment(message.scheduled_at, zone, texts),
                started=_moment(message.started_at, zone, texts),
                finished=_moment(message.finished_at, zone, texts),
            ),
            html(
                texts.card_counts,
                delivered=message.delivered,
                failed=message.failed,
                blocked=message.blocked,
                unconfirmed=message.unconfirmed,
                cancelled=message.cancelled,
                pending=max(0, pending),
            ),
        ]
    )


async def _export(context: HeraldContext, chat_id: int, message: MessageHistory) -> None:
    """Every recipient with status, Telegram message id, time and error, as a CSV document."""
    async with context.services.sessions() as session:
        content, count = await export_recipients(session, message.id)
    await context.bot.send_document(
        chat_id,
        InputFile(content, filename=f"message-{message.id}.csv"),
        caption=html(context.texts.export_caption, id=message.id, count=count),
    )
