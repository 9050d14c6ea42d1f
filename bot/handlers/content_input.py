"""Reading an admin's message as content to broadcast (or to edit one with): every kind of
mistake is answered with what to do, and the caller's step stays where it was."""

from __future__ import annotations

from telegram import Message

from bot.delivery.content import (
    Content,
    ContentTooLong,
    EmptyContent,
    Keyboard,
    UnsupportedContent,
    content_from_message,
)
from bot.parsing import placeholders as braces
from bot.parsing.buttons import ButtonError, parse_buttons
from bot.texts import Texts
from bot.texts.render import echo, html


async def read_content(message: Message, texts: Texts, placeholders: bool = True) -> Content | None:
    """The message as content, or None once the admin was told why it cannot be; without
    `placeholders` (a reply to one person) braces are just text."""
    try:
        content = content_from_message(message)
    except UnsupportedContent:
        await message.reply_text(texts.content_unsupported)
        return None
    except EmptyContent:
        await message.reply_text(texts.content_empty)
        return None
    except ContentTooLong as exc:
        await message.reply_text(html(texts.content_too_long, length=exc.length, limit=exc.limit))
        return None
    if placeholders and not await placeholders_known(message, texts, [content.text]):
        return None
    return content


async def placeholders_known(message: Message, texts: Texts, texts_to_check: list[str]) -> bool:
    """False, after saying which placeholder is unknown and listing the known ones."""
    try:
        for text in texts_to_check:
            braces.check(text)
    except braces.PlaceholderError as exc:
        known = ", ".join(f"{{{name}}}" for name in braces.KNOWN)
        await message.reply_text(html(texts.placeholder_bad, found=echo(exc.found), known=known))
        return False
    return True


async def read_buttons(message: Message, texts: Texts) -> Keyboard | None:
    """Button lines as a keyboard, or None once the admin was told the first bad line."""
    assert message.text is not None
    try:
        rows = parse_buttons(message.text)
    except ButtonError as exc:
        problem = texts.button_problems[exc.problem.value]
        reply = html(texts.buttons_error, line=exc.line, problem=problem) if exc.line else problem
        await message.reply_text(reply)
        return None
    if not await placeholders_known(message, texts, [b.url for row in rows for b in row]):
        return None
    return rows
