"""Admin menu buttons."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot import keyboards
from bot.callbacks import MenuAction, MenuCb
from bot.context import Handlers, HeraldContext
from bot.handlers import streams
from bot.handlers.screens import redraw


async def menu_button(update: Update, context: HeraldContext) -> None:
    """Receives a menu tap; turns the menu message into the chosen screen or back."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    await query.answer()
    texts = context.texts
    action = MenuCb.unpack(query.data).action
    if action is MenuAction.STREAMS:
        await redraw(query, await streams.render(context), await streams.manage_keyboard(context))
    else:
        await redraw(query, texts.admin_menu, keyboards.admin_menu(texts))


async def stale_button(update: Update, context: HeraldContext) -> None:
    """Receives a button this bot no longer understands; says the menu expired."""
    if update.callback_query is not None:
        await update.callback_query.answer(context.texts.menu_expired, show_alert=True)


def handlers() -> Handlers:
    """Menu taps no section took (Home, Streams, Send), then any button nobody understands:
    these two go after every other module's handlers."""
    return [
        CallbackQueryHandler(menu_button, pattern=MenuCb.matches()),
        CallbackQueryHandler(stale_button),
    ]
