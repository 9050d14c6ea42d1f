"""The "when" steps shared by two flows: scheduling a new draft, and moving a queued message.

Each flow passes a `WhenFlow`: where its draft lives, its own state numbers, what Back does and
what happens once the time is confirmed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.callbacks import ComposeAction, ComposeCb, RescheduleCb
from bot.compose import Draft, UserData
from bot.context import HeraldContext
from bot.scheduling import display
from bot.scheduling.timeparse import (
    QUICK_CHOICES,
    Problem,
    Reading,
    TimeError,
    parse_when,
    quick_choices,
)
from bot.texts import Texts
from bot.texts.render import html
from db.repo import admins

Step = Callable[[Update, HeraldContext, Draft], Awaitable[int]]


Tap = ComposeCb | RescheduleCb


@dataclass(frozen=True)
class WhenFlow:
    """One flow's use of the when-steps; `cb` tells its buttons from the other flow's."""

    asking: int
    confirming: int
    draft: Callable[[UserData], Draft | None]
    back: Step
    done: Callable[[Update, HeraldContext, Draft, Reading, str], Awaitable[int]]
    cb: type[ComposeCb] | type[RescheduleCb] = ComposeCb
    repeatable: bool = False  # the confirmation offers "Repeat" (a new draft, not a move)


async def admin_zone(context: HeraldContext, admin_id: int) -> str:
    async with context.services.sessions() as session:
        return await admins.zone_for(session, admin_id, context.services.config.bot.timezone)


async def tapped(
    update: Update,
    context: HeraldContext,
    draft: Draft | None,
    cb: type[ComposeCb] | type[RescheduleCb] = ComposeCb,
) -> Tap | None:
    """The data of a tap on `draft`'s buttons; None (after saying so) if the menu is stale."""
    query = update.callback_query
    if query is None or query.data is None:
        return None
    data = cb.unpack(query.data)
    if draft is None or data.draft != draft.id:
        await query.answer(context.texts.menu_expired, show_alert=True)
        return None
    return data


def _choices(
    texts: Texts, cb: type[ComposeCb] | type[RescheduleCb], draft: str, choices: list[int]
) -> InlineKeyboardMarkup:
    """Quick times still ahead (by index into the quick list), and Back."""
    labels = (
        texts.quick_in_hour,
        texts.quick_today_18,
        texts.quick_tomorrow_9,
        texts.quick_tomorrow_18,
    )
    buttons = [
        InlineKeyboardButton(labels[i], callback_data=cb(draft, ComposeAction.QUICK_TIME, i).pack())
        for i in choices
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    back = cb(draft, ComposeAction.BACK).pack()
    rows.append([InlineKeyboardButton(texts.button_back, callback_data=back)])
    return InlineKeyboardMarkup(rows)


def _confirm_keyboard(texts: Texts, flow: WhenFlow, draft: str) -> InlineKeyboardMarkup:
    def b(label: str, action: ComposeAction) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=flow.cb(draft, action).pack())

    rows = [[b(texts.button_schedule_ok, ComposeAction.SCHEDULE_OK)]]
    if flow.repeatable:
        rows.append([b(texts.button_repeat, ComposeAction.REPEAT)])
    rows.append(
        [
            b(texts.button_other_time, ComposeAction.OTHER_TIME),
            b(texts.button_back, ComposeAction.BACK),
        ]
    )
    return InlineKeyboardMarkup(rows)


async def ask(flow: WhenFlow, update: Update, context: HeraldContext, draft: Draft) -> int:
    """Asks for a time: quick choices that are still ahead, or a typed time."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    texts = context.texts
    zone = await admin_zone(context, user.id)
    now = context.services.clock()
    choices = [index for index, _ in quick_choices(now, zone)]
    draft.step = flow.asking
    await chat.send_message(
        html(texts.ask_when, zone=zone, now=display.clock(now, zone, texts)),
        reply_markup=_choices(texts, flow.cb, draft.id, choices),
    )
    return flow.asking


async def confirm(
    flow: WhenFlow, update: Update, context: HeraldContext, draft: Draft, reading: Reading
) -> int:
    """Asks to confirm the time read (and, for a new draft, offers to repeat it)."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    texts = context.texts
    zone = await admin_zone(context, user.id)
    now = context.services.clock()
    draft.when = reading
    draft.step = flow.confirming
    text = html(texts.confirm_schedule, when=display.when(reading.utc, zone, texts, now))
    if reading.ambiguous:
        local = display.local_time(reading.utc, zone, texts, now)
        text += "\n" + html(texts.ambiguous_note, local=local)
    await chat.send_message(text, reply_markup=_confirm_keyboard(texts, flow, draft.id))
    return flow.confirming


def _problem_text(texts: Texts, error: TimeError, zone: str) -> str:
    text = texts.time_problems[error.problem.value]
    if error.problem is Problem.MISSING and error.local is not None:
        return text.format(local=error.local.strftime("%d.%m.%Y %H:%M"), zone=zone)
    return text


def typed(flow: WhenFlow) -> Callable[[Update, HeraldContext], Coroutine[Any, Any, int]]:
    """A handler for a typed time: refuses what cannot be used and says what to type instead."""

    async def got_when(update: Update, context: HeraldContext) -> int:
        message, user = update.effective_message, update.effective_user
        assert message is not None and message.text is not None and user is not None
        assert context.user_data is not None
        draft = flow.draft(context.user_data)
        assert draft is not None
        zone = await admin_zone(context, user.id)
        try:
            reading = parse_when(message.text, context.services.clock(), zone)
        except TimeError as error:
            await message.reply_text(_problem_text(context.texts, error, zone))
            return flow.asking
        return await confirm(flow, update, context, draft, reading)

    return got_when


def tap(flow: WhenFlow) -> Callable[[Update, HeraldContext], Coroutine[Any, Any, int | None]]:
    """A handler for a quick choice, "Schedule", "Another time" or "Back"."""

    async def when_tap(update: Update, context: HeraldContext) -> int | None:
        assert context.user_data is not None
        draft = flow.draft(context.user_data)
        data = await tapped(update, context, draft, flow.cb)
        if data is None or draft is None:
            return None
        query, user = update.callback_query, update.effective_user
        assert query is not None and user is not None
        texts = context.texts
        zone = await admin_zone(context, user.id)
        now = context.services.clock()
        await query.answer()
        if data.action is ComposeAction.QUICK_TIME:
            if not 0 <= data.arg < len(QUICK_CHOICES):
                return flow.asking
            try:
                quick = parse_when(QUICK_CHOICES[data.arg], now, zone)
            except TimeError as error:
                assert update.effective_chat is not None
                await update.effective_chat.send_message(_problem_text(texts, error, zone))
                return flow.asking
            return await confirm(flow, update, context, draft, quick)
        if data.action is ComposeAction.OTHER_TIME:
            return await ask(flow, update, context, draft)
        if data.action is ComposeAction.BACK:
            return await flow.back(update, context, draft)
        reading = draft.when
        if reading is None or reading.utc <= now:
            assert update.effective_chat is not None
            await update.effective_chat.send_message(texts.time_problems[Problem.PAST.value])
            return await ask(flow, update, context, draft)
        return await flow.done(update, context, draft, reading, zone)

    return when_tap
