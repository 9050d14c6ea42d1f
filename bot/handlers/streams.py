"""/streams: each stream with its member count and invite link."""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.constants import ParseMode

from bot.context import HeraldContext
from bot.texts import Texts
from db.repo import streams


def invite_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


def _blocked(texts: Texts, n: int) -> str:
    return texts.plural(texts.blocked_people, n) if n else ""


async def render(context: HeraldContext) -> str:
    """The streams overview as HTML."""
    texts = context.texts
    async with context.services.sessions() as session:
        counts = await streams.with_counts(session, include_archived=True)
        without, without_blocked = await streams.count_without_stream(session)
    lines = [texts.streams_title]
    if not counts:
        lines.append(texts.streams_empty)
    for item in counts:
        title = escape(item.stream.title) + (texts.stream_archived if item.stream.archived else "")
        lines.append(
            texts.stream_line.format(
                title=title,
                code=escape(item.stream.code),
                members=texts.plural(texts.members, item.members),
                blocked=_blocked(texts, item.blocked),
                link=invite_link(context.bot.username, item.stream.code),
            )
        )
    lines.append(
        texts.no_stream_line.format(
            members=texts.plural(texts.members, without),
            blocked=_blocked(texts, without_blocked),
        )
    )
    return "\n\n".join(lines)


async def streams_command(update: Update, context: HeraldContext) -> None:
    """Receives /streams; answers with the overview."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            await render(context), parse_mode=ParseMode.HTML, disable_web_page_preview=True
        )
