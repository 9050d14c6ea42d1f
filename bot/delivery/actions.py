"""What an edit, delete, pin or unpin for everyone does to one person's copy: the sender the
delivery engine calls for an action run, in place of the one that sends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.error import BadRequest

from bot.delivery.content import Content, Sender, Values, filled, personalises
from bot.delivery.readahead import ReadAhead
from db.models import ActionKind, MessageKind
from db.repo import actions

DELETE_WINDOW_HOURS = 48
"""Telegram lets a bot delete its messages in private chats for this long after sending."""

DONE_ALREADY = {
    ActionKind.EDIT: "message is not modified",
    ActionKind.DELETE: "message to delete not found",
}
"""Telegram's answer when the copy is already as wanted: the edit changes nothing, or the
person deleted the message (or the chat) themselves. Both count as done."""

MEDIA_TYPES = {
    MessageKind.PHOTO,
    MessageKind.VIDEO,
    MessageKind.DOCUMENT,
    MessageKind.ANIMATION,
    MessageKind.AUDIO,
}
"""Kinds `editMessageMedia` can put in place of a file (Telegram has no InputMediaVoice)."""


class Copies:
    """The Telegram message id of each person's copy, read ahead in id order."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], action_id: int) -> None:
        async def load(user_id: int, limit: int) -> list[tuple[int, int]]:
            async with sessions() as session:
                return await actions.targets_from(session, action_id, user_id, limit)

        def missing(user_id: int) -> int:
            raise LookupError(f"no copy of run {action_id} in chat {user_id}")

        self.of = ReadAhead(load, missing).get


def _edit_request(content: Content, replaces_file: bool) -> tuple[str, dict[str, Any]]:
    """The method and fixed parameters of an edit: text, caption, or the file itself."""
    params: dict[str, Any] = {}
    base = filled(content, None)
    if content.kind is MessageKind.TEXT:
        if not content.options.preview:
            params["link_preview_options"] = {"is_disabled": True}
        return "editMessageText", {**base, **params}
    if replaces_file:
        media: dict[str, Any] = {"type": content.kind.value, "media": content.file_id}
        for key in ("caption", "caption_entities"):
            if key in base:
                media[key] = base.pop(key)
        return "editMessageMedia", {**base, "media": media}
    return "editMessageCaption", {"caption": "", **base}


def make_action_sender(
    bot: Bot,
    action: ActionKind,
    content: Content,
    copies: Callable[[int], Awaitable[int]],
    values: Values | None = None,
    replaces_file: bool = False,
) -> Sender:
    """A function that does `action` to one person's copy and returns that copy's id.

    For an edit, `content` is the new text or caption (personalised again with `values`) and
    its buttons; `replaces_file` puts the content's file in place of the old one.
    """
    if action is ActionKind.EDIT:
        method, params = _edit_request(content, replaces_file)
    elif action is ActionKind.DELETE:
        method, params = "deleteMessage", {}
    elif action is ActionKind.PIN:
        method, params = "pinChatMessage", {"disable_notification": True}
    else:
        method, params = "unpinChatMessage", {}
    personal = values if action is ActionKind.EDIT and personalises(content) else None
    done_already = DONE_ALREADY.get(action)

    async def act(chat_id: int) -> int:
        message_id = await copies(chat_id)
        own: dict[str, Any] = {}
        if personal is not None:
            own = filled(content, await personal(chat_id))
            if method == "editMessageMedia":
                media = dict(params["media"])
                for key in ("caption", "caption_entities"):
                    if key in own:
                        media[key] = own.pop(key)
                own["media"] = media
        try:
            await bot.do_api_request(
                method, api_kwargs={"chat_id": chat_id, "message_id": message_id, **params, **own}
            )
        except BadRequest as exc:
            if done_already is None or done_already not in exc.message.lower():
                raise
        return message_id

    return act
