"""Adding and renaming a stream: a short conversation of its own, with Cancel on every prompt.

It keeps its state apart from a message draft, so adding a stream in the middle of composing
leaves the draft as it was.
"""

from __future__ import annotations

import enum
import re
import warnings
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import commands
from bot.callbacks import StreamAction, StreamCb
from bot.context import Handlers, HeraldContext
from bot.delivery.content import has_visible
from bot.handlers.streams import invite_link
from bot.texts.render import echo, html
from db.models import AuditAction
from db.repo import audit, streams
from db.repo.audit import Target

CODE = re.compile(r"^[a-z0-9_]{1,32}$")
TITLE_LIMIT = 64
END = ConversationHandler.END


class StreamStep(enum.IntEnum):
    CODE = 1
    TITLE = 2
    RENAME = 3


@dataclass
class StreamEdit:
    """What the admin is doing to the streams: a new code typed so far, or a stream renamed."""

    code: str | None = None
    renaming: int | None = None


def _cancel_markup(context: HeraldContext) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(
        context.texts.button_cancel, callback_data=StreamCb(StreamAction.CANCEL).pack()
    )
    return InlineKeyboardMarkup([[button]])


def _edit(context: HeraldContext) -> StreamEdit:
    assert context.user_data is not None
    if context.user_data.stream_edit is None:
        context.user_data.stream_edit = StreamEdit()
    return context.user_data.stream_edit


async def begin_add(update: Update, context: HeraldContext) -> StreamStep:
    """Receives "Add stream"; asks for the code."""
    assert update.callback_query is not None and context.user_data is not None
    await update.callback_query.answer()
    context.user_data.stream_edit = StreamEdit()
    assert update.effective_chat is not None
    await update.effective_chat.send_message(
        context.texts.ask_stream_code, reply_markup=_cancel_markup(context)
    )
    return StreamStep.CODE


async def got_code(update: Update, context: HeraldContext) -> StreamStep:
    """Receives the code; refuses a malformed or taken one and asks again."""
    message = update.effective_message
    assert message is not None and message.text is not None
    texts = context.texts
    code = message.text.strip()
    if not CODE.match(code):
        await message.reply_text(
            html(texts.stream_code_bad, code=echo(code)), reply_markup=_cancel_markup(context)
        )
        return StreamStep.CODE
    async with context.services.sessions() as session:
        taken = await streams.by_code(session, code) is not None
    if taken:
        await message.reply_text(
            html(texts.stream_code_taken, code=code), reply_markup=_cancel_markup(context)
        )
        return StreamStep.CODE
    _edit(context).code = code
    await message.reply_text(
        html(texts.ask_stream_title, code=code), reply_markup=_cancel_markup(context)
    )
    return StreamStep.TITLE


def _title(text: str | None) -> str | None:
    title = " ".join((text or "").split())
    return title if 1 <= len(title) <= TITLE_LIMIT and has_visible(title) else None


async def got_title(update: Update, context: HeraldContext) -> StreamStep | int:
    """Receives the new stream's title; creates the stream and shows its invite link."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    texts = context.texts
    services = context.services
    title = _title(message.text)
    code = _edit(context).code
    assert code is not None
    if title is None:
        await message.reply_text(texts.stream_title_bad, reply_markup=_cancel_markup(context))
        return StreamStep.TITLE
    try:
        async with services.sessions.begin() as session:
            await streams.create(session, code, title)
            await audit.record(
                session,
                user.id,
                AuditAction.STREAM_ADD,
                services.clock(),
                target=Target(stream=title),
                details={"code": code},
            )
    except IntegrityError:
        await message.reply_text(
            html(texts.stream_code_taken, code=code), reply_markup=_cancel_markup(context)
        )
        return StreamStep.CODE
    link = invite_link(context.bot.username, code)
    await message.reply_text(html(texts.stream_added, title=title, code=code, link=link))
    return _done(context)


async def begin_rename(update: Update, context: HeraldContext) -> StreamStep | int:
    """Receives "Rename" on a stream; asks for the new title."""
    query = update.callback_query
    assert query is not None and query.data is not None and context.user_data is not None
    stream_id = StreamCb.unpack(query.data).stream_id
    async with context.services.sessions() as session:
        stream = await streams.get(session, stream_id)
    if stream is None:
        await query.answer(context.texts.menu_expired, show_alert=True)
        return END
    await query.answer()
    context.user_data.stream_edit = StreamEdit(renaming=stream_id)
    assert update.effective_chat is not None
    await update.effective_chat.send_message(
        html(context.texts.ask_stream_rename, code=stream.code, title=stream.title),
        reply_markup=_cancel_markup(context),
    )
    return StreamStep.RENAME


async def got_rename(update: Update, context: HeraldContext) -> StreamStep | int:
    """Receives the new title and stores it."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    texts = context.texts
    services = context.services
    title = _title(message.text)
    if title is None:
        await message.reply_text(texts.stream_title_bad, reply_markup=_cancel_markup(context))
        return StreamStep.RENAME
    stream_id = _edit(context).renaming
    assert stream_id is not None
    async with services.sessions.begin() as session:
        stream = await streams.get(session, stream_id)
        if stream is None:
            await message.reply_text(texts.menu_expired)
            return _done(context)
        old = stream.title
        stream.title = title
        await audit.record(
            session,
            user.id,
            AuditAction.STREAM_RENAME,
            services.clock(),
            target=Target(stream=title, was=old),
            details={"code": stream.code},
        )
        code = stream.code
    await message.reply_text(html(texts.stream_renamed, code=code, title=title))
    return _done(context)


def _done(context: HeraldContext) -> int:
    assert context.user_data is not None
    context.user_data.stream_edit = None
    return END


def _left(context: HeraldContext) -> str:
    edit = context.user_data.stream_edit if context.user_data else None
    texts = context.texts
    return texts.stream_rename_cancelled if edit and edit.renaming else texts.stream_add_cancelled


async def cancel(update: Update, context: HeraldContext) -> int:
    """Receives /cancel or Cancel: nothing about the streams changes."""
    text = _left(context)
    if update.callback_query is not None:
        await update.callback_query.answer()
    assert update.effective_chat is not None
    await update.effective_chat.send_message(text)
    return _done(context)


async def timed_out(update: Update, context: HeraldContext) -> None:
    text = _left(context)
    _done(context)
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is not None:
        await chat.send_message(html(context.texts.stream_edit_timed_out, left=text))


async def busy(update: Update, context: HeraldContext) -> None:
    """Another command at a stream prompt: say what the prompt is waiting for."""
    edit = context.user_data.stream_edit if context.user_data else None
    texts = context.texts
    text = texts.stream_busy_rename if edit and edit.renaming else texts.stream_busy_add
    if update.effective_message is not None:
        await update.effective_message.reply_text(text, reply_markup=_cancel_markup(context))


async def hint(update: Update, context: HeraldContext) -> None:
    """Anything but text at a stream prompt: say what it wants."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            context.texts.stream_prompt_hint, reply_markup=_cancel_markup(context)
        )


def conversation(timeout: float) -> ConversationHandler[HeraldContext]:
    """Add and Rename, each with Cancel; another command during it asks to finish first."""
    text = filters.TEXT & ~filters.COMMAND
    other = ~filters.COMMAND & ~filters.TEXT
    prompts: list[BaseHandler[Update, HeraldContext, object]] = [
        MessageHandler(other, hint),
        MessageHandler(commands.OTHER_THAN_CANCEL, busy),
    ]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*per_message.*")
        return ConversationHandler(
            entry_points=[
                CallbackQueryHandler(
                    begin_add, pattern=StreamCb.matches(lambda d: d.action is StreamAction.ADD)
                ),
                CallbackQueryHandler(
                    begin_rename,
                    pattern=StreamCb.matches(lambda d: d.action is StreamAction.RENAME),
                ),
            ],
            states={
                StreamStep.CODE: [MessageHandler(text, got_code), *prompts],
                StreamStep.TITLE: [MessageHandler(text, got_title), *prompts],
                StreamStep.RENAME: [MessageHandler(text, got_rename), *prompts],
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[
                CommandHandler(commands.CANCEL, cancel),
                CallbackQueryHandler(
                    cancel, pattern=StreamCb.matches(lambda d: d.action is StreamAction.CANCEL)
                ),
            ],
            conversation_timeout=timeout,
            name="stream_edit",
        )


def handlers(timeout: float) -> Handlers:
    return [conversation(timeout)]
