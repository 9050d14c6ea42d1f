"""/start: students join (optionally into a stream by invite code); admins get their menu."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot import commands, keyboards
from bot.commands import set_admin_commands
from bot.context import Handlers, HeraldContext
from bot.handlers import inbox
from bot.texts.render import html
from db.repo import streams, users


async def start(update: Update, context: HeraldContext) -> None:
    """Receives /start [code]; answers a student with the welcome, an admin with the menu."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    services = context.services
    if services.is_admin(user.id):
        await show_admin_menu(update, context)
        return
    code = context.args[0] if context.args else None
    if code:
        async with services.sessions.begin() as session:
            stream = await streams.by_code(session, code)
            if stream is not None and not stream.archived:
                await users.set_stream(session, user.id, stream.id)
    welcome = services.config.bot.welcome_text
    await message.reply_text(
        html("{text}", text=welcome) if welcome else context.texts.welcome_default
    )


async def publish_commands(context: HeraldContext, admin_id: int) -> None:
    """Give the admin's chat the admin command list in their language, unless it has it."""
    services = context.services
    texts = services.languages.texts_for(admin_id)
    if services.commands_language.get(admin_id) == texts.language:
        return
    if await set_admin_commands(context.bot, texts, admin_id):
        services.commands_language[admin_id] = texts.language


async def show_admin_menu(update: Update, context: HeraldContext) -> None:
    """Sends the admin menu and makes sure this admin's chat has the admin command list."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    await publish_commands(context, user.id)
    await message.reply_text(
        context.texts.admin_menu,
        reply_markup=keyboards.admin_menu(context.texts),
    )


async def other_message(update: Update, context: HeraldContext) -> None:
    """Receives anything no other handler took; admins get the menu, students a short note."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or context.user_data is None:
        return
    if context.services.config.bot.replies == "forward" and not context.services.is_admin(user.id):
        await inbox.student_message(update, context)  # every item of an album goes on
        return
    if not context.user_data.first_of_album(message.media_group_id):
        return
    if context.services.is_admin(user.id):
        await show_admin_menu(update, context)
    else:
        await message.reply_text(context.texts.student_text_reply)


async def nothing_to_cancel(update: Update, context: HeraldContext) -> None:
    """Receives /cancel outside a conversation; says there is nothing to cancel."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(context.texts.nothing_to_cancel)


def handlers() -> Handlers:
    return [CommandHandler(commands.START, start)]


def last_handlers() -> Handlers:
    """After every other handler: /cancel with nothing open, and any other private message."""
    return [
        CommandHandler(commands.CANCEL, nothing_to_cancel),
        MessageHandler(filters.ChatType.PRIVATE, other_message),
    ]
