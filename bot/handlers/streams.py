"""/streams: each stream with its member count and invite link."""

from __future__ import annotations

from markupsafe import Markup
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import commands, keyboards
from bot.callbacks import StreamAction, StreamCb
from bot.context import Handlers, HeraldContext
from bot.handlers.screens import redraw
from bot.texts import Texts
from bot.texts.render import fit, html, more
from db.models import AuditAction
from db.repo import audit, streams
from db.repo.audit import Target


def invite_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


def _blocked(texts: Texts, n: int) -> str:
    return texts.plural(texts.blocked_people, n) if n else ""


async def render(context: HeraldContext) -> Markup:
    """The streams overview as HTML."""
    texts = context.texts
    async with context.services.sessions() as session:
        counts = await streams.with_counts(session, include_archived=True)
        without, without_blocked = await streams.count_without_stream(session)
    head = [html(texts.streams_title)]
    if not counts:
        head.append(html(texts.streams_empty))
    lines = []
    for item in counts:
        archived = html(texts.stream_archived) if item.stream.archived else ""
        title = html("{title}{archived}", title=item.stream.title, archived=archived)
        lines.append(
            html(
                texts.stream_line,
                title=title,
                code=item.stream.code,
                members=texts.plural(texts.members, item.members),
                blocked=_blocked(texts, item.blocked),
                link=invite_link(context.bot.username, item.stream.code),
            )
        )
    no_stream = html(
        texts.no_stream_line,
        members=texts.plural(texts.members, without),
        blocked=_blocked(texts, without_blocked),
    )
    return fit(head, lines, more(texts), [no_stream], separator="\n\n")


async def manage_keyboard(context: HeraldContext) -> InlineKeyboardMarkup:
    async with context.services.sessions() as session:
        listed = await streams.listed(session, include_archived=True)
    return keyboards.streams_manage(context.texts, listed)


async def streams_command(update: Update, context: HeraldContext) -> None:
    """Receives /streams; answers with the overview and the buttons that change streams."""
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(
        await render(context),
        reply_markup=await manage_keyboard(context),
    )


async def stream_tap(update: Update, context: HeraldContext) -> None:
    """Receives Archive (asks first when the stream has members), its confirmation, or Restore."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    texts = context.texts
    services = context.services
    data = StreamCb.unpack(query.data)
    async with services.sessions.begin() as session:
        stream = await streams.get(session, data.stream_id)
        if stream is None:
            await query.answer(texts.menu_expired, show_alert=True)
            return
        if data.action is StreamAction.ARCHIVE:
            count = await streams.member_count(session, stream.id)
            if count:
                await query.answer()
                await redraw(
                    query,
                    html(
                        texts.stream_archive_confirm,
                        title=stream.title,
                        members=texts.plural(texts.people, count),
                    ),
                    keyboards.archive_confirm(texts, stream.id),
                )
                return
        archive = data.action is not StreamAction.RESTORE
        stream.archived = archive
        await audit.record(
            session,
            user.id,
            AuditAction.STREAM_ARCHIVE if archive else AuditAction.STREAM_RESTORE,
            services.clock(),
            target=Target(stream=stream.title),
            details={"code": stream.code},
        )
        title = stream.title
    done = texts.stream_archived_done if archive else texts.stream_restored
    await query.answer(done.format(title=title))
    await redraw(query, await render(context), await manage_keyboard(context))


def handlers() -> Handlers:
    """Add, Rename and their Cancel are not here: they open bot.handlers.stream_edit."""
    editing = (StreamAction.ADD, StreamAction.RENAME, StreamAction.CANCEL)
    return [
        CommandHandler(commands.STREAMS, streams_command),
        CallbackQueryHandler(
            stream_tap, pattern=StreamCb.matches(lambda d: d.action not in editing)
        ),
    ]
