"""Telegram's command menu: /start for everyone, the admin set in each admin's chat."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import filters

from bot.texts import Texts

log = logging.getLogger(__name__)

START = "start"
SEND = "send"
CANCEL = "cancel"
STREAMS = "streams"
SCHEDULED = "scheduled"
TIMEZONE = "timezone"
LANGUAGE = "language"
HISTORY = "history"
STATS = "stats"
AUDIT = "audit"
USERS = "users"
INBOX = "inbox"

_CANCEL = re.compile(rf"^/{CANCEL}(@\w+)?(\s|$)")
OTHER_THAN_CANCEL = filters.COMMAND & ~filters.Regex(_CANCEL)
"""Any command but /cancel: what a prompt in progress answers with "finish or cancel first"."""


def is_cancel(text: str | None) -> bool:
    """Whether a message is /cancel (for prompts that are modes rather than conversations)."""
    return bool(text and _CANCEL.match(text))


ADMIN_COMMANDS: tuple[tuple[str, Callable[[Texts], str]], ...] = (
    (START, lambda t: t.cmd_start),
    (SEND, lambda t: t.cmd_send),
    (SCHEDULED, lambda t: t.cmd_scheduled),
    (HISTORY, lambda t: t.cmd_history),
    (STATS, lambda t: t.cmd_stats),
    (AUDIT, lambda t: t.cmd_audit),
    (USERS, lambda t: t.cmd_users),
    (INBOX, lambda t: t.cmd_inbox),
    (STREAMS, lambda t: t.cmd_streams),
    (TIMEZONE, lambda t: t.cmd_timezone),
    (LANGUAGE, lambda t: t.cmd_language),
    (CANCEL, lambda t: t.cmd_cancel),
)


def _admin_list(texts: Texts) -> list[BotCommand]:
    return [BotCommand(name, describe(texts)) for name, describe in ADMIN_COMMANDS]


async def set_default_commands(bot: Bot, texts: Texts) -> None:
    """Publish /start for everyone; a refusal only costs the menu, so it is logged and skipped."""
    try:
        await bot.set_my_commands(
            [BotCommand(START, texts.cmd_start)], scope=BotCommandScopeDefault()
        )
    except TelegramError as exc:
        log.warning("could not publish the command list (%s); going on without it", exc.message)


async def set_admin_commands(bot: Bot, texts: Texts, admin_id: int) -> bool:
    """Scope the admin list to one admin's chat; False when Telegram does not know the chat yet."""
    try:
        await bot.set_my_commands(_admin_list(texts), scope=BotCommandScopeChat(admin_id))
    except (BadRequest, Forbidden) as exc:
        log.info(
            "admin %s has no chat with the bot yet (%s); commands follow their /start",
            admin_id,
            exc,
        )
        return False
    except TelegramError as exc:
        log.warning("could not publish admin %s's commands (%s); retried on /start", admin_id, exc)
        return False
    return True
