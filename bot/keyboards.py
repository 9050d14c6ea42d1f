"""Inline keyboards, built from typed callback data and the text catalog."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import MenuAction, MenuCb
from bot.texts import Texts


def admin_menu(texts: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.menu_streams, callback_data=MenuCb(MenuAction.STREAMS).pack()
                )
            ]
        ]
    )
