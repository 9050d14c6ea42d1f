"""The one place that keeps admin features to admins and registers everyone else who writes."""

from __future__ import annotations

import logging

from telegram import MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.commands import START
from bot.context import HeraldContext
from bot.handlers.start import publish_commands
from db.models import AuditAction, full_name
from db.repo import admins, audit, updates, users
from db.repo.audit import Target

log = logging.getLogger(__name__)


def contact_of(update: Update) -> users.Contact | None:
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    return users.Contact(
        id=user.id,
        username=user.username,
        first_name=user.first_name,
        last_name=user.last_name,
        language_code=user.language_code,
    )


def _command(update: Update, bot_username: str) -> str | None:
    """The command a message starts with, without the slash; None if it is for another bot."""
    message = update.effective_message
    if message is None or not message.text or not message.entities:
        return None
    first = message.entities[0]
    if first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None
    name, _, addressee = message.text[1 : first.length].partition("@")
    if addressee and addressee.lower() != bot_username.lower():
        return None
    return name.lower()


def _is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is None or chat.type == ChatType.PRIVATE


async def once_only(update: Update, context: HeraldContext) -> None:
    """Drop an update another process already handled: after a failover Telegram sends again
    what the dead process fetched, answered, and never confirmed."""
    services = context.services
    async with services.sessions.begin() as session:
        first = await updates.remember(session, update.update_id, services.clock())
    if not first:
        log.info("update %s was handled before a failover; skipping it", update.update_id)
        raise ApplicationHandlerStop


async def touch_contact(update: Update, context: HeraldContext) -> None:
    """Refresh whoever writes: students in the registry, admins only by name (not audience)."""
    if update.my_chat_member is not None or not _is_private(update):
        return
    contact = contact_of(update)
    services = context.services
    if contact is None:
        return
    admin = services.is_admin(contact.id)
    app_language = services.languages.seen(contact.id, contact.language_code) if admin else None
    if admin and context.user_data is not None:
        context.user_data.texts = services.languages.texts_for(contact.id)
    async with services.sessions.begin() as session:
        if admin:
            name = full_name(contact.first_name, contact.last_name)
            await admins.remember(session, contact.id, name, app_language, services.clock())
        else:
            await users.touch(session, contact, services.clock())
    published = services.commands_language.get(contact.id)
    if admin and published not in (None, services.languages.of(contact.id)):
        await publish_commands(context, contact.id)


async def admin_gate(update: Update, context: HeraldContext) -> None:
    """Stop any admin command or button from a non-admin: refuse briefly and audit it.

    Outside the private chat nobody gets admin screens: an admin's command or button there is
    answered with one line pointing to the private chat, and everything else is ignored.
    """
    user = update.effective_user
    services = context.services
    if user is None:
        return
    if not _is_private(update):
        await _outside_private_chat(update, context, services.is_admin(user.id))
        raise ApplicationHandlerStop
    if services.is_admin(user.id):
        return
    query = update.callback_query
    command = _command(update, context.bot.username)
    if query is None and (command is None or command == START):
        return
    attempt = f"button {query.data}" if query is not None else f"/{command}"
    async with services.sessions.begin() as session:
        await audit.record(
            session,
            user.id,
            AuditAction.DENIED,
            services.clock(),
            target=Target(attempt=attempt[:128]),
        )
    log.info("refused %s from non-admin %s", attempt, user.id)
    if query is not None:
        await query.answer(context.texts.admin_only_alert, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(context.texts.admin_only)
    raise ApplicationHandlerStop


async def _outside_private_chat(update: Update, context: HeraldContext, admin: bool) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(context.texts.private_only, show_alert=True)
        return
    message = update.effective_message
    if admin and message is not None and _command(update, context.bot.username) is not None:
        await message.reply_text(context.texts.private_only)
