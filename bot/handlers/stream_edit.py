"""Adding and renaming streams: short steps of the admin conversation."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError
from telegram import Update

from bot.callbacks import StreamCb
from bot.compose import Draft
from bot.context import HeraldContext
from bot.delivery.content import has_visible
from bot.handlers.compose import END, Step, chat_of, draft_of
from bot.handlers.streams import invite_link
from bot.texts.render import echo, html
from db.models import AuditAction
from db.repo import audit, streams

CODE = re.compile(r"^[a-z0-9_]{1,32}$")
TITLE_LIMIT = 64


async def begin_add(update: Update, context: HeraldContext) -> Step:
    """Receives "Add stream"; asks for the code."""
    assert update.callback_query is not None and context.user_data is not None
    await update.callback_query.answer()
    context.user_data.draft = Draft()
    await chat_of(update).send_message(context.texts.ask_stream_code)
    return Step.STREAM_CODE


async def got_code(update: Update, context: HeraldContext) -> Step:
    """Receives the code; refuses a malformed or taken one and asks again."""
    message = update.effective_message
    assert message is not None and message.text is not None
    texts = context.texts
    code = message.text.strip()
    if not CODE.match(code):
        await message.reply_text(html(texts.stream_code_bad, code=echo(code)))
        return Step.STREAM_CODE
    async with context.services.sessions() as session:
        taken = await streams.by_code(session, code) is not None
    if taken:
        await message.reply_text(html(texts.stream_code_taken, code=code))
        return Step.STREAM_CODE
    draft_of(context).new_stream_code = code
    await message.reply_text(html(texts.ask_stream_title, code=code))
    return Step.STREAM_TITLE


def _title(text: str | None) -> str | None:
    title = " ".join((text or "").split())
    return title if 1 <= len(title) <= TITLE_LIMIT and has_visible(title) else None


async def got_title(update: Update, context: HeraldContext) -> Step | int:
    """Receives the new stream's title; creates the stream and shows its invite link."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    texts = context.texts
    services = context.services
    title = _title(message.text)
    code = draft_of(context).new_stream_code
    assert code is not None
    if title is None:
        await message.reply_text(texts.stream_title_bad)
        return Step.STREAM_TITLE
    try:
        async with services.sessions.begin() as session:
            await streams.create(session, code, title)
            await audit.record(
                session, user.id, AuditAction.STREAM_ADD, services.clock(), target=code
            )
    except IntegrityError:
        await message.reply_text(html(texts.stream_code_taken, code=code))
        await message.reply_text(texts.ask_stream_code)
        return Step.STREAM_CODE
    link = invite_link(context.bot.username, code)
    await message.reply_text(
        html(texts.stream_added, title=title, code=code, link=link),
    )
    return _done(context)


async def begin_rename(update: Update, context: HeraldContext) -> Step | int:
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
    context.user_data.draft = Draft(renaming_stream=stream_id)
    await chat_of(update).send_message(
        html(context.texts.ask_stream_rename, code=stream.code, title=stream.title)
    )
    return Step.STREAM_RENAME


async def got_rename(update: Update, context: HeraldContext) -> Step | int:
    """Receives the new title and stores it."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    texts = context.texts
    services = context.services
    title = _title(message.text)
    if title is None:
        await message.reply_text(texts.stream_title_bad)
        return Step.STREAM_RENAME
    stream_id = draft_of(context).renaming_stream
    assert stream_id is not None
    async with services.sessions.begin() as session:
        stream = await streams.get(session, stream_id)
        if stream is None:
            await message.reply_text(texts.menu_expired)
            return _done(context)
        stream.title = title
        await audit.record(
            session,
            user.id,
            AuditAction.STREAM_RENAME,
            services.clock(),
            target=stream.code,
            details={"title": title},
        )
        code = stream.code
    await message.reply_text(html(texts.stream_renamed, code=code, title=title))
    return _done(context)


def _done(context: HeraldContext) -> int:
    assert context.user_data is not None
    context.user_data.draft = None
    return END
