"""/history: messages newest first, one labelled button each, filters folded behind one button;
every screen (list, filters, card) is drawn in the same message."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from babel.dates import format_datetime
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import commands, keyboards
from bot.callbacks import (
    CallbackData,
    DeliveryAction,
    DeliveryCb,
    HistoryAction,
    HistoryCb,
    HistoryKind,
    HistoryTarget,
    MenuAction,
    MenuCb,
)
from bot.context import Handlers, HeraldContext
from bot.delivery import everyone
from bot.delivery.content import Content, make_sender
from bot.delivery.everyone import State
from bot.exports import export_recipients
from bot.handlers import everyone as everyone_view
from bot.handlers.screens import redraw
from bot.handlers.when import admin_zone
from bot.keyboards import pager
from bot.scheduling import display
from bot.scheduling.zones import to_local
from bot.texts import Texts
from bot.texts.render import echo, html, join
from bot.views import first_words, options_line, person_name, recipients_summary
from db.models import MessageHistory, MessageStatus, RecipientType, Stream
from db.repo import admins, history, streams
from db.repo.audience import EVERYONE, NO_STREAM, Selection, stream_target
from db.repo.history import HistoryFilter

PER_PAGE = 8
KINDS: dict[HistoryKind, RecipientType | None] = {
    HistoryKind.ALL: None,
    HistoryKind.INDIVIDUAL: RecipientType.INDIVIDUAL,
    HistoryKind.GROUP: RecipientType.GROUP,
    HistoryKind.MIXED: RecipientType.MIXED,
}
MARKS = {
    MessageStatus.DONE: "✅",
    MessageStatus.SCHEDULED: "⏰",
    MessageStatus.SENDING: "📤",
    MessageStatus.STOPPED: "⏹",
    MessageStatus.CANCELLED: "✖️",
    MessageStatus.MISSED: "⌛",
    MessageStatus.FAILED: "⚠️",
    MessageStatus.DRAFT: "📝",
}
"""Each entry's first sign; any message that did not reach someone gets ⚠️ instead."""
TO_SHOWN = 24
LINE_WORDS = 50
"""Characters of each message's first words in the list: two lines of a phone at most."""


def to_filter(data: HistoryCb) -> HistoryFilter:
    """The repository filter a callback's target stands for."""
    targets = {
        HistoryTarget.ALL: None,
        HistoryTarget.EVERYONE: EVERYONE,
        HistoryTarget.NO_STREAM: NO_STREAM,
        HistoryTarget.STREAM: stream_target(data.stream_id),
    }
    return HistoryFilter(
        kind=KINDS[data.kind], target=targets[data.target], failed=bool(data.failed)
    )


def _target_name(data: HistoryCb, titles: dict[int, str], texts: Texts) -> str:
    names = {
        HistoryTarget.ALL: texts.filter_all,
        HistoryTarget.EVERYONE: texts.target_everyone,
        HistoryTarget.NO_STREAM: texts.pick_no_stream,
        HistoryTarget.STREAM: titles.get(data.stream_id, texts.pick_no_stream),
    }
    return names[data.target]


def _missed(message: MessageHistory) -> int:
    return message.failed + message.blocked + message.unconfirmed


def _group(message: MessageHistory, titles: dict[int, str], texts: Texts) -> str:
    return recipients_summary(Selection.from_json(message.selection), titles, texts)


def _shown_time(message: MessageHistory) -> datetime:
    """When the message went out, or is due, or was written."""
    return message.started_at or message.scheduled_at or message.created_at


def _short_time(instant: datetime, zone: str, texts: Texts, now: datetime) -> str:
    """`21 Nov 14:02`, with the year when it is not this one."""
    local = to_local(instant, zone)
    pattern = "d MMM HH:mm" if local.year == to_local(now, zone).year else "d MMM y HH:mm"
    return format_datetime(local, pattern, locale=texts.language)


def _with(data: HistoryCb, **change: Any) -> HistoryCb:
    return dataclasses.replace(data, **change)


def _button(label: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data.pack())


def _filters_line(data: HistoryCb, titles: dict[int, str], texts: Texts) -> str:
    kind = KINDS[data.kind]
    return html(
        texts.history_filters,
        kind=texts.kind_names[kind.value if kind is not None else "a"],
        target=_target_name(data, titles, texts),
        failed=texts.history_only_failed if data.failed else "",
    )


async def render_list(
    context: HeraldContext, admin_id: int, data: HistoryCb
) -> tuple[str, InlineKeyboardMarkup]:
    """One page of history: a button per message, then paging, Filters and Menu."""
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    now = context.services.clock()
    async with context.services.sessions() as session:
        found, total = await history.page(
            session, to_filter(data), PER_PAGE, keyboards.page_start(data.page, PER_PAGE)
        )
        titles = {s.id: s.title for s in await streams.listed(session, include_archived=True)}
    lines = [html(texts.history_title, count=total), _filters_line(data, titles, texts)]
    filtered = data.kind is not HistoryKind.ALL or data.target is not HistoryTarget.ALL
    filtered = filtered or bool(data.failed)
    if not total:
        lines.append(html(texts.history_empty_filtered if filtered else texts.history_empty))
    rows = []
    for message in found:
        mark = "⚠️" if _missed(message) else MARKS[message.status]
        words = first_words(message, texts, LINE_WORDS)
        lines.append(html(texts.history_line, mark=mark, id=message.id, words=words))
        label = texts.history_entry.format(
            mark=mark,
            id=message.id,
            when=_short_time(_shown_time(message), zone, texts, now),
            to=echo(_group(message, titles, texts), TO_SHOWN),
            delivered=message.delivered,
            total=message.total,
        )
        rows.append([_button(label, _with(data, action=HistoryAction.CARD, message_id=message.id))])
    if total:
        lines.append(html(texts.history_hint))
    pages = max(1, math.ceil(total / PER_PAGE))
    nav = pager(data.page, pages, _with(data, action=HistoryAction.LIST), "page")
    if nav:
        rows.append(nav)
    rows.append(
        [
            _button(texts.button_filters, _with(data, action=HistoryAction.FILTERS)),
            _button(texts.menu_back, MenuCb(MenuAction.HOME)),
        ]
    )
    return join(lines), InlineKeyboardMarkup(rows)


def _mark(on: bool, label: str) -> str:
    return f"✅ {label}" if on else label


def filters_keyboard(
    texts: Texts, data: HistoryCb, active: Sequence[Stream]
) -> InlineKeyboardMarkup:
    """Type, recipients and "with failures", each change shown at once; Done goes back."""

    def choose(**change: Any) -> HistoryCb:
        return _with(data, action=HistoryAction.FILTERS, page=0, **change)

    kinds = [
        (HistoryKind.ALL, "a"),
        (HistoryKind.INDIVIDUAL, "individual"),
        (HistoryKind.GROUP, "group"),
        (HistoryKind.MIXED, "mixed"),
    ]
    rows = [
        [
            _button(_mark(data.kind is code, texts.kind_names[name]), choose(kind=code))
            for code, name in kinds
        ]
    ]
    plain = [
        (HistoryTarget.ALL, texts.filter_all),
        (HistoryTarget.EVERYONE, texts.target_everyone),
        (HistoryTarget.NO_STREAM, texts.pick_no_stream),
    ]
    choices = [
        _button(_mark(data.target is t, label), choose(target=t, stream_id=0)) for t, label in plain
    ]
    choices += [
        _button(
            _mark(data.target is HistoryTarget.STREAM and data.stream_id == s.id, s.title),
            choose(target=HistoryTarget.STREAM, stream_id=s.id),
        )
        for s in active
    ]
    rows += [choices[i : i + 3] for i in range(0, len(choices), 3)]
    rows.append(
        [
            _button(
                _mark(bool(data.failed), texts.filter_failed),
                choose(failed=0 if data.failed else 1),
            )
        ]
    )
    rows.append([_button(texts.button_done, _with(data, action=HistoryAction.LIST, page=0))])
    return InlineKeyboardMarkup(rows)


def card_keyboard(
    texts: Texts, data: HistoryCb, message: MessageHistory, seen: State, now: datetime
) -> InlineKeyboardMarkup:
    """What can be done with a sent (or queued) message, and the way back to the list."""
    rows = [[_button(texts.card_preview, _with(data, action=HistoryAction.PREVIEW))]]
    rows += everyone_view.card_buttons(texts, message, seen, now)
    if _missed(message):
        rows.append(
            [
                _button(
                    texts.card_not_reached,
                    DeliveryCb(DeliveryAction.FAILURES, message.id, card=1),
                )
            ]
        )
    if message.failed + message.unconfirmed and not seen.deleted:
        rows.append(
            [_button(texts.button_retry, DeliveryCb(DeliveryAction.RETRY, message.id, card=1))]
        )
    rows.append(
        [
            _button(texts.card_draft, _with(data, action=HistoryAction.DRAFT)),
            _button(texts.card_export, _with(data, action=HistoryAction.EXPORT)),
        ]
    )
    rows.append(
        [
            _button(texts.card_back, _with(data, action=HistoryAction.LIST)),
            _button(texts.menu_back, MenuCb(MenuAction.HOME)),
        ]
    )
    return InlineKeyboardMarkup(rows)


async def history_command(update: Update, context: HeraldContext) -> None:
    """Receives /history or the menu button; shows the newest messages (the menu in place)."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    text, markup = await render_list(context, user.id, HistoryCb(HistoryAction.LIST))
    query = update.callback_query
    if query is not None:
        await query.answer()
        await redraw(query, text, markup)
        return
    await chat.send_message(text, reply_markup=markup)


async def history_tap(update: Update, context: HeraldContext) -> None:
    """Receives a page, the filters, an entry, or a card action (except "Use as new draft")."""
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    assert query is not None and query.data is not None and user is not None and chat is not None
    texts = context.texts
    data = HistoryCb.unpack(query.data)
    if data.action is HistoryAction.LIST:
        await query.answer()
        text, markup = await render_list(context, user.id, data)
        await redraw(query, text, markup)
        return
    if data.action is HistoryAction.FILTERS:
        await query.answer()
        async with context.services.sessions() as session:
            stream_list = await streams.listed(session, include_archived=True)
        titles = {s.id: s.title for s in stream_list}
        text = join([html(texts.history_filters_title), _filters_line(data, titles, texts)])
        active = [s for s in stream_list if not s.archived]
        await redraw(query, text, filters_keyboard(texts, data, active))
        return
    message, seen = await everyone.look(context.services.sessions, data.message_id)
    if message is None or seen is None:
        await query.answer(texts.menu_expired, show_alert=True)
        return
    await query.answer()
    if data.action is HistoryAction.EXPORT:
        await _export(context, chat.id, message)
    elif data.action is HistoryAction.PREVIEW:
        await make_sender(context.bot, Content.of(message))(chat.id)
    else:
        data = _with(data, message_id=message.id)
        text = await card_text(context, user.id, message, seen)
        now = context.services.clock()
        await redraw(query, text, card_keyboard(texts, data, message, seen, now))


def _moment(value: datetime | None, zone: str, texts: Texts, now: datetime) -> str:
    return display.when(value, zone, texts, now) if value is not None else texts.time_none


async def card_text(
    context: HeraldContext, admin_id: int, message: MessageHistory, seen: State
) -> str:
    """Everything about one message: who, to whom, when, how it went, and what was done to
    its copies since (the text shown stays the original, for the record)."""
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    now = context.services.clock()
    async with context.services.sessions() as session:
        names = await admins.names(session)
        titles = {s.id: s.title for s in await streams.listed(session, include_archived=True)}
    pending = message.total - (_missed(message) + message.delivered + message.cancelled)
    return join(
        [
            html(
                texts.card_title,
                id=message.id,
                status=texts.message_status_names[message.status.value],
            ),
            html(texts.card_words, words=first_words(message, texts)),
            *filter(None, [options_line(texts, Content.of(message).options)]),
            html(texts.card_author, author=person_name(names, message.author_id, texts)),
            html(
                texts.card_recipients,
                group=_group(message, titles, texts),
                kind=texts.kind_one[message.recipient_type.value],
                total=texts.plural(texts.recipients, message.total),
            ),
            html(
                texts.card_times,
                created=_moment(message.created_at, zone, texts, now),
                scheduled=_moment(message.scheduled_at, zone, texts, now),
                started=_moment(message.started_at, zone, texts, now),
                finished=_moment(message.finished_at, zone, texts, now),
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
            *await everyone_view.state_lines(context, admin_id, message, seen),
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


def handlers() -> Handlers:
    """ "Use as new draft" is not here: it opens the compose conversation."""
    return [
        CommandHandler(commands.HISTORY, history_command),
        CallbackQueryHandler(history_command, pattern=MenuCb(MenuAction.HISTORY).pack()),
        CallbackQueryHandler(
            history_tap, pattern=HistoryCb.matches(lambda d: d.action is not HistoryAction.DRAFT)
        ),
    ]
