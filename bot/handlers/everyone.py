"""Edit, delete, pin and unpin a sent broadcast for everyone, from its history card: delete and
pin ask once with the count; an edit is a short conversation of its own (new text, buttons, the
exact preview). Every run then reports in the message the last button sat under."""

from __future__ import annotations

import enum
import warnings
from dataclasses import replace
from datetime import datetime

from babel.dates import format_datetime
from markupsafe import Markup
from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import commands
from bot.callbacks import (
    EditAction,
    EditCb,
    EveryoneAction,
    EveryoneCb,
    EveryoneKind,
    HistoryAction,
    HistoryCb,
)
from bot.compose import EditDraft
from bot.context import Handlers, HeraldContext
from bot.delivery import everyone
from bot.delivery.actions import MEDIA_TYPES
from bot.delivery.content import (
    CAPTION_LIMIT,
    Content,
    make_sender,
    personalises,
)
from bot.delivery.everyone import Refusal, State
from bot.delivery.personal import values_of
from bot.handlers.content_input import read_buttons, read_content
from bot.handlers.screens import redraw
from bot.handlers.when import admin_zone
from bot.parsing.buttons import format_buttons
from bot.scheduling import display
from bot.scheduling.zones import to_local
from bot.texts import Texts
from bot.texts.render import MESSAGE_LIMIT, html
from bot.views import first_words, person_name
from db.models import ActionKind, MessageHistory, MessageKind
from db.repo import actions, admins, streams

END = ConversationHandler.END

KINDS = {
    EveryoneKind.EDIT: ActionKind.EDIT,
    EveryoneKind.DELETE: ActionKind.DELETE,
    EveryoneKind.PIN: ActionKind.PIN,
    EveryoneKind.UNPIN: ActionKind.UNPIN,
}


class EditStep(enum.IntEnum):
    TEXT = 1
    BUTTONS = 2
    REVIEW = 3


def _button(label: str, data: EveryoneCb | EditCb | HistoryCb) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data.pack())


def _card(message_id: int) -> HistoryCb:
    return HistoryCb(HistoryAction.CARD, message_id=message_id)


# ----- on the history card --------------------------------------------------------------------


async def state_lines(
    context: HeraldContext, admin_id: int, parent: MessageHistory, seen: State
) -> list[Markup]:
    """What was done to the copies: edits (how many, the last by whom), deletions, the pin,
    and a run going on now. The original text stays above, for the record."""
    texts = context.texts
    lines: list[Markup] = []
    last = seen.last_edit
    if last is not None:
        zone = await admin_zone(context, admin_id)
        async with context.services.sessions() as session:
            names = await admins.names(session)
        when = format_datetime(
            to_local(last.created_at, zone), "d MMM HH:mm", locale=texts.language
        )
        lines.append(
            html(
                texts.form(texts.card_edited, len(seen.edits)),
                n=len(seen.edits),
                when=when,
                who=person_name(names, last.author_id, texts),
                words=first_words(last, texts),
            )
        )
    if seen.deleted:
        lines.append(html(texts.card_deleted, n=seen.deleted, total=parent.delivered))
    if seen.pinned:
        lines.append(html(texts.card_pinned, n=seen.pinned, total=parent.delivered))
    if seen.running is not None and seen.running.action is not None:
        lines.append(html(texts.card_running, what=texts.everyone_names[seen.running.action]))
    return lines


def card_buttons(
    texts: Texts, parent: MessageHistory, seen: State, now: datetime
) -> list[list[InlineKeyboardButton]]:
    """Edit / Delete / Pin (or Unpin) for everyone, when there are copies to change and
    nothing else is changing them; past Telegram's 48 hours Delete says so instead."""
    if everyone.refusal(parent, seen, ActionKind.EDIT, now) is not None:
        return []

    def ask(kind: EveryoneKind) -> EveryoneCb:
        return EveryoneCb(EveryoneAction.ASK, kind, parent.id)

    if everyone.refusal(parent, seen, ActionKind.DELETE, now) is Refusal.TOO_OLD:
        delete = _button(
            texts.everyone_too_old_button,
            EveryoneCb(EveryoneAction.TOO_OLD, EveryoneKind.DELETE, parent.id),
        )
    else:
        delete = _button(texts.everyone_buttons["delete"], ask(EveryoneKind.DELETE))
    pin = EveryoneKind.UNPIN if seen.pinned else EveryoneKind.PIN
    return [
        [_button(texts.everyone_buttons["edit"], ask(EveryoneKind.EDIT))],
        [delete],
        [_button(texts.everyone_buttons[KINDS[pin].value], ask(pin))],
    ]


async def _refuse(update: Update, context: HeraldContext, refused: Refusal) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(context.texts.everyone_refused[refused.value], show_alert=True)


async def everyone_tap(update: Update, context: HeraldContext) -> None:
    """Receives Delete / Pin / Unpin on a card (asks with the count), the confirmation (the
    run starts in this message), or the over-48-hours Delete (says why not)."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    texts = context.texts
    services = context.services
    data = EveryoneCb.unpack(query.data)
    action = KINDS[data.kind]
    parent, seen = await everyone.look(services.sessions, data.message_id)
    now = services.clock()
    if data.action is EveryoneAction.TOO_OLD:
        assert update.effective_user is not None
        until = seen.deletable_until if seen is not None else None
        zone = await admin_zone(context, update.effective_user.id)
        when = display.when(until, zone, texts, now) if until is not None else texts.time_none
        await query.answer(texts.everyone_too_old.format(when=when), show_alert=True)
        return
    refused = everyone.refusal(parent, seen, action, now)
    if refused is not None:
        await _refuse(update, context, refused)
        return
    assert parent is not None and seen is not None
    if data.action is EveryoneAction.ASK:
        await query.answer()
        question = html(texts.everyone_ask[action.value], id=parent.id, n=seen.reach)
        yes = replace(data, action=EveryoneAction.GO, seen=seen.newest(action))
        markup = InlineKeyboardMarkup(
            [
                [_button(texts.everyone_yes[action.value], yes)],
                [_button(texts.button_back, _card(parent.id))],
            ]
        )
        await redraw(query, question, markup)
        return
    await _start(update, context, parent.id, action, None, False, data.seen)


async def _start(
    update: Update,
    context: HeraldContext,
    parent_id: int,
    action: ActionKind,
    content: Content | None,
    replaces_file: bool,
    expect: int,
) -> bool:
    """Open the run and turn the tapped message into its progress; False if refused."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.message is not None and user is not None
    services = context.services
    run = await everyone.open_run(
        services.sessions,
        services.clock,
        user.id,
        parent_id,
        action,
        content,
        replaces_file,
        expect,
    )
    if isinstance(run, Refusal):
        await _refuse(update, context, run)
        return False
    services.broadcaster.start(run, query.message.chat.id, query.message.message_id)
    await query.answer()
    return True


# ----- the edit conversation ------------------------------------------------------------------


def _draft(context: HeraldContext) -> EditDraft:
    assert context.user_data is not None and context.user_data.amend is not None
    return context.user_data.amend


def _edit_button(label: str, draft: EditDraft, action: EditAction) -> InlineKeyboardButton:
    return _button(label, EditCb(draft.id, action))


async def _ask_text(chat: Chat, context: HeraldContext, draft: EditDraft) -> None:
    texts = context.texts
    draft.step = EditStep.TEXT
    prompt = {
        MessageKind.TEXT: texts.edit_ask_text,
        MessageKind.VOICE: texts.edit_ask_voice_caption,
    }.get(draft.current.kind, texts.edit_ask_caption)
    markup = InlineKeyboardMarkup(
        [
            [
                _edit_button(texts.button_cancel, draft, EditAction.CANCEL),
                _edit_button(texts.edit_keep_text, draft, EditAction.KEEP_TEXT),
            ]
        ]
    )
    await chat.send_message(html(prompt, id=draft.parent_id), reply_markup=markup)


async def begin(update: Update, context: HeraldContext) -> int | None:
    """Receives "Edit for everyone" on a card (also while another edit is open: that one is
    dropped); asks for the new text. Refused: says why, and an open edit stays as it was."""
    query, chat = update.callback_query, update.effective_chat
    assert query is not None and query.data is not None and chat is not None
    assert context.user_data is not None
    data = EveryoneCb.unpack(query.data)
    services = context.services
    parent, seen = await everyone.look(services.sessions, data.message_id)
    refused = everyone.refusal(parent, seen, ActionKind.EDIT, services.clock())
    if refused is not None:
        await _refuse(update, context, refused)
        return None
    assert parent is not None and seen is not None
    await query.answer()
    draft = EditDraft(
        parent.id,
        everyone.current_content(parent, seen),
        based_on=seen.newest(ActionKind.EDIT),
        settled=seen.settled,
    )
    context.user_data.amend = draft
    await _ask_text(chat, context, draft)
    return EditStep.TEXT


def _new_content(draft: EditDraft, sent: Content, texts: Texts) -> tuple[Content, bool] | str:
    """The edited message from what the admin sent, and whether it replaces the file; or
    what to tell them instead."""
    current = draft.current
    if current.kind is MessageKind.TEXT:
        if sent.kind is not MessageKind.TEXT:
            return html(texts.edit_not_a_file, id=draft.parent_id)
        return replace(sent, buttons=current.buttons, options=current.options), False
    if sent.kind is MessageKind.TEXT:
        if len(sent.text) > CAPTION_LIMIT:
            return html(texts.content_too_long, length=len(sent.text), limit=CAPTION_LIMIT)
        return replace(current, text=sent.text, entities=sent.entities), False
    if current.kind not in MEDIA_TYPES:
        return html(texts.edit_voice_file)
    if sent.kind not in MEDIA_TYPES:
        return html(texts.edit_no_such_file)
    return replace(sent, buttons=current.buttons, options=current.options), True


async def got_text(update: Update, context: HeraldContext) -> int:
    """Receives the new text, caption or file; asks for the buttons."""
    message = update.effective_message
    assert message is not None and context.user_data is not None
    draft = _draft(context)
    if not context.user_data.first_of_album(message.media_group_id):
        return EditStep.TEXT
    sent = await read_content(message, context.texts)
    if sent is None:
        return EditStep.TEXT
    made = _new_content(draft, sent, context.texts)
    if isinstance(made, str):
        await message.reply_text(made)
        return EditStep.TEXT
    draft.new, draft.replaces_file = made
    return await _ask_buttons(message, context, draft)


async def _ask_buttons(message: Message, context: HeraldContext, draft: EditDraft) -> int:
    texts = context.texts
    draft.step = EditStep.BUTTONS
    text = html(texts.edit_ask_buttons)
    if draft.current.buttons:
        current = html(texts.buttons_current, buttons=format_buttons(draft.current.buttons))
        if len(text + current) <= MESSAGE_LIMIT:
            text += current
    rows = [[_edit_button(texts.edit_no_buttons, draft, EditAction.NO_BUTTONS)]]
    if draft.current.buttons:
        rows.insert(0, [_edit_button(texts.edit_keep_buttons, draft, EditAction.KEEP_BUTTONS)])
    rows.append([_edit_button(texts.button_cancel, draft, EditAction.CANCEL)])
    await message.chat.send_message(text, reply_markup=InlineKeyboardMarkup(rows))
    return EditStep.BUTTONS


async def got_buttons(update: Update, context: HeraldContext) -> int:
    """Receives the new button lines; shows the preview and the count."""
    message = update.effective_message
    assert message is not None and message.text is not None
    draft = _draft(context)
    rows = await read_buttons(message, context.texts)
    if rows is None:
        return EditStep.BUTTONS
    assert draft.new is not None
    draft.new = draft.new.with_buttons(rows)
    return await _review(message, context, draft)


async def _review(message: Message, context: HeraldContext, draft: EditDraft) -> int:
    """The exact new message (as the first person would get it), then the count and Confirm;
    an edit that changes nothing goes back to step 1."""
    texts = context.texts
    services = context.services
    new = draft.new
    assert new is not None
    if new == draft.current and not draft.replaces_file and draft.settled:
        await message.chat.send_message(html(texts.edit_nothing, id=draft.parent_id))
        draft.new = None
        await _ask_text(message.chat, context, draft)
        return EditStep.TEXT
    async with services.sessions() as session:
        reach = await actions.reach(session, draft.parent_id)
        owner = await actions.first_owner(session, draft.parent_id) if personalises(new) else None
        stream = await streams.get(session, owner.stream_id) if owner and owner.stream_id else None
    shown: dict[str, str] = {}
    if owner is not None:
        title = stream.title if stream is not None else None
        shown = values_of(owner, title, services.texts.placeholder_no_stream)

    async def values(_chat_id: int) -> dict[str, str]:
        return shown

    await make_sender(context.bot, new, values=values)(message.chat.id)
    markup = InlineKeyboardMarkup(
        [
            [_edit_button(texts.edit_confirm, draft, EditAction.CONFIRM)],
            [
                _edit_button(texts.edit_again, draft, EditAction.AGAIN),
                _edit_button(texts.button_cancel, draft, EditAction.CANCEL),
            ],
        ]
    )
    summary = html(texts.edit_summary, id=draft.parent_id, n=reach)
    draft.step = EditStep.REVIEW
    await message.chat.send_message(summary, reply_markup=markup)
    return EditStep.REVIEW


STEP_TAPS = {
    EditStep.TEXT: {EditAction.KEEP_TEXT, EditAction.CANCEL},
    EditStep.BUTTONS: {EditAction.KEEP_BUTTONS, EditAction.NO_BUTTONS, EditAction.CANCEL},
    EditStep.REVIEW: {EditAction.CONFIRM, EditAction.AGAIN, EditAction.CANCEL},
}
"""The buttons each step's message has; a button left on an earlier step's message is stale."""


async def edit_tap(update: Update, context: HeraldContext) -> int | None:
    """Receives Keep text, Keep buttons, No buttons, Confirm, Start over or Cancel."""
    query = update.callback_query
    assert query is not None and query.data is not None and context.user_data is not None
    draft = context.user_data.amend
    data = EditCb.unpack(query.data)
    if draft is None:
        await query.answer(context.texts.menu_expired, show_alert=True)
        return END
    if data.draft != draft.id or data.action not in STEP_TAPS[EditStep(draft.step)]:
        await query.answer(context.texts.menu_expired, show_alert=True)
        return None
    message = query.message
    assert isinstance(message, Message)
    if data.action is EditAction.CANCEL:
        await query.answer()
        return await _cancelled(message, context)
    if data.action is EditAction.CONFIRM:
        assert draft.new is not None
        new, replaces_file = draft.new, draft.replaces_file
        parent_id, based_on = draft.parent_id, draft.based_on
        if await _start(update, context, parent_id, ActionKind.EDIT, new, replaces_file, based_on):
            context.user_data.amend = None
            return END
        return None
    await query.answer()
    if data.action is EditAction.KEEP_TEXT:
        draft.new, draft.replaces_file = draft.current, False
        return await _ask_buttons(message, context, draft)
    if data.action is EditAction.AGAIN:
        draft.new = None
        await _ask_text(message.chat, context, draft)
        return EditStep.TEXT
    assert draft.new is not None
    if data.action is EditAction.NO_BUTTONS:
        draft.new = draft.new.with_buttons(())
    else:
        draft.new = draft.new.with_buttons(draft.current.buttons)
    return await _review(message, context, draft)


async def _cancelled(message: Message, context: HeraldContext) -> int:
    assert context.user_data is not None
    draft = context.user_data.amend
    context.user_data.amend = None
    if draft is not None:
        await message.chat.send_message(html(context.texts.edit_cancelled, id=draft.parent_id))
    return END


async def cancel(update: Update, context: HeraldContext) -> int:
    """Receives /cancel: the broadcast stays as it reads."""
    assert update.effective_message is not None
    return await _cancelled(update.effective_message, context)


async def timed_out(update: Update, context: HeraldContext) -> None:
    assert context.user_data is not None
    draft = context.user_data.amend
    context.user_data.amend = None
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is not None and draft is not None:
        await chat.send_message(html(context.texts.edit_timed_out, id=draft.parent_id))


async def busy(update: Update, context: HeraldContext) -> None:
    """Another command, or input the step does not take: say what the edit waits for."""
    assert context.user_data is not None
    draft = context.user_data.amend
    if update.effective_message is not None and draft is not None:
        await update.effective_message.reply_text(html(context.texts.edit_busy, id=draft.parent_id))


async def buttons_hint(update: Update, context: HeraldContext) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(context.texts.buttons_need_text)


async def stale(update: Update, context: HeraldContext) -> None:
    """An edit button from a closed edit."""
    if update.callback_query is not None:
        await update.callback_query.answer(context.texts.menu_expired, show_alert=True)


def _taps() -> CallbackQueryHandler[HeraldContext, object]:
    return CallbackQueryHandler(edit_tap, pattern=EditCb.matches())


def conversation(timeout: float) -> ConversationHandler[HeraldContext]:
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*per_message.*")
        return ConversationHandler(
            entry_points=[
                CallbackQueryHandler(
                    begin,
                    pattern=EveryoneCb.matches(
                        lambda d: d.action is EveryoneAction.ASK and d.kind is EveryoneKind.EDIT
                    ),
                )
            ],
            states={
                EditStep.TEXT: [
                    MessageHandler(~filters.COMMAND, got_text),
                    MessageHandler(commands.OTHER_THAN_CANCEL, busy),
                    _taps(),
                ],
                EditStep.BUTTONS: [
                    MessageHandler(text, got_buttons),
                    MessageHandler(~filters.COMMAND & ~filters.TEXT, buttons_hint),
                    MessageHandler(commands.OTHER_THAN_CANCEL, busy),
                    _taps(),
                ],
                EditStep.REVIEW: [
                    MessageHandler(~filters.Regex(rf"^/{commands.CANCEL}(@\w+)?(\s|$)"), busy),
                    _taps(),
                ],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[CommandHandler(commands.CANCEL, cancel)],
            conversation_timeout=timeout,
            name="edit_for_everyone",
            allow_reentry=True,  # Edit on another card starts over with that message
        )


def handlers(timeout: float) -> Handlers:
    return [
        conversation(timeout),
        CallbackQueryHandler(
            everyone_tap,
            pattern=EveryoneCb.matches(lambda d: d.kind is not EveryoneKind.EDIT),
        ),
        CallbackQueryHandler(stale, pattern=EditCb.matches()),
    ]
