"""/language: each admin reads Herald in their own language (or their Telegram app's)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import commands, keyboards
from bot.callbacks import LanguageCb
from bot.context import Handlers, HeraldContext
from bot.handlers import start
from bot.handlers.screens import redraw
from bot.texts import CATALOGS, Texts
from bot.texts.render import html
from db.models import AuditAction
from db.repo import admins, audit
from db.repo.audit import Target


def _screen(context: HeraldContext, admin_id: int) -> tuple[str, InlineKeyboardMarkup]:
    languages = context.services.languages
    texts = context.texts
    text = html(
        texts.language_title,
        language=texts.language_names[languages.of(admin_id)],
        source=texts.language_from[languages.source(admin_id)],
    )
    rows = [
        [
            InlineKeyboardButton(
                keyboards.mark(code == languages.chosen(admin_id), texts.language_names[code]),
                callback_data=LanguageCb(code).pack(),
            )
            for code in sorted(CATALOGS)
        ],
        [
            InlineKeyboardButton(
                keyboards.mark(languages.chosen(admin_id) is None, texts.language_auto),
                callback_data=LanguageCb().pack(),
            )
        ],
        keyboards.home_row(texts),
    ]
    return text, InlineKeyboardMarkup(rows)


async def language_command(update: Update, context: HeraldContext) -> None:
    """Receives /language; shows the admin's language and where it comes from."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    text, markup = _screen(context, user.id)
    await chat.send_message(text, reply_markup=markup)


async def language_tap(update: Update, context: HeraldContext) -> None:
    """Receives a language (or "as my Telegram app"); keeps it and redraws in that language."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    services = context.services
    wanted = LanguageCb.unpack(query.data).language or None
    if wanted is not None and wanted not in CATALOGS:
        await query.answer(context.texts.menu_expired, show_alert=True)
        return
    now = services.clock()
    async with services.sessions.begin() as session:
        await admins.set_language(session, user.id, wanted, now)
        await audit.record(
            session, user.id, AuditAction.LANGUAGE, now, Target(language=wanted or "auto")
        )
    services.languages.choose(user.id, wanted)
    texts: Texts = services.languages.texts_for(user.id)
    if context.user_data is not None:
        context.user_data.texts = texts
    await query.answer()
    await start.publish_commands(context, user.id)
    text, markup = _screen(context, user.id)
    await redraw(query, text, markup)


def handlers() -> Handlers:
    return [
        CommandHandler(commands.LANGUAGE, language_command),
        CallbackQueryHandler(language_tap, pattern=LanguageCb.matches()),
    ]
