"""What is sent: a text or a media file with caption, its formatting and its URL buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity

from db.models import MessageHistory, MessageKind

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class Button:
    label: str
    url: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Content:
    """A message as students will get it; entities are Telegram's JSON, so formatting is exact."""

    kind: MessageKind
    text: str = ""
    entities: tuple[JSONDict, ...] = ()
    file_id: str | None = None
    buttons: Keyboard = field(default=())

    @property
    def limit(self) -> int:
        return TEXT_LIMIT if self.kind is MessageKind.TEXT else CAPTION_LIMIT

    def with_buttons(self, buttons: Keyboard) -> Content:
        return Content(self.kind, self.text, self.entities, self.file_id, buttons)

    def buttons_json(self) -> list[list[dict[str, str]]]:
        return [[{"text": b.label, "url": b.url} for b in row] for row in self.buttons]

    @classmethod
    def of(cls, row: MessageHistory) -> Content:
        """The content stored on a message row."""
        buttons = tuple(tuple(Button(b["text"], b["url"]) for b in line) for line in row.buttons)
        return cls(row.kind, row.text, tuple(row.entities), row.file_id, buttons)


class UnsupportedContent(Exception):
    """The message is of a kind Herald cannot broadcast (sticker, poll, album...)."""


class ContentTooLong(Exception):
    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"{length} > {limit}")
        self.length = length
        self.limit = limit


def content_from_message(message: Message) -> Content:
    """Take the admin's message as it is; raises for kinds that cannot be broadcast."""
    if message.media_group_id is not None:
        raise UnsupportedContent("album")
    media: tuple[tuple[MessageKind, Any], ...] = (
        (MessageKind.ANIMATION, message.animation),
        (MessageKind.PHOTO, message.photo[-1] if message.photo else None),
        (MessageKind.VIDEO, message.video),
        (MessageKind.DOCUMENT, message.document),
        (MessageKind.AUDIO, message.audio),
        (MessageKind.VOICE, message.voice),
    )
    for kind, item in media:
        if item is not None:
            caption = message.caption or ""
            entities = tuple(e.to_dict() for e in message.caption_entities)
            content = Content(kind, caption, entities, item.file_id)
            break
    else:
        if not message.text:
            raise UnsupportedContent("kind")
        content = Content(
            MessageKind.TEXT, message.text, tuple(e.to_dict() for e in message.entities)
        )
    if len(content.text) > content.limit:
        raise ContentTooLong(len(content.text), content.limit)
    return content


def markup(buttons: Keyboard) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, url=b.url) for b in row] for row in buttons]
    )


Sender = Callable[[int], Awaitable[Message]]

_MEDIA_METHODS: dict[MessageKind, str] = {
    MessageKind.PHOTO: "send_photo",
    MessageKind.VIDEO: "send_video",
    MessageKind.DOCUMENT: "send_document",
    MessageKind.ANIMATION: "send_animation",
    MessageKind.AUDIO: "send_audio",
    MessageKind.VOICE: "send_voice",
}


def make_sender(bot: Bot, content: Content, paid: bool = False) -> Sender:
    """A function that sends `content` to one chat; the Telegram objects are built once."""
    kwargs: dict[str, Any] = {"reply_markup": markup(content.buttons)}
    if paid:
        kwargs["allow_paid_broadcast"] = True
    entities = MessageEntity.de_list([dict(e) for e in content.entities], bot) or None
    if content.kind is MessageKind.TEXT:
        method = bot.send_message
        kwargs.update(text=content.text, entities=entities)
    else:
        method = getattr(bot, _MEDIA_METHODS[content.kind])
        media_arg = content.kind.value
        kwargs.update({media_arg: content.file_id, "caption": content.text or None})
        kwargs["caption_entities"] = entities

    async def send(chat_id: int) -> Message:
        result: Message = await method(chat_id=chat_id, **kwargs)
        return result

    return send
