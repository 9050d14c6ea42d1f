"""What is sent: a text or a media file with caption, its formatting and its URL buttons."""

from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.warnings import PTBUserWarning

from bot.parsing.placeholders import fill, uses_braces
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
class Options:
    """How a broadcast arrives: without a sound, protected from forwarding and saving, and
    with or without a preview of its first link (text only)."""

    silent: bool = False
    protected: bool = False
    preview: bool = True


@dataclass(frozen=True)
class Content:
    """A message as students will get it; entities are Telegram's JSON, so formatting is exact."""

    kind: MessageKind
    text: str = ""
    entities: tuple[JSONDict, ...] = ()
    file_id: str | None = None
    buttons: Keyboard = field(default=())
    options: Options = field(default=Options())

    @property
    def limit(self) -> int:
        return TEXT_LIMIT if self.kind is MessageKind.TEXT else CAPTION_LIMIT

    def with_buttons(self, buttons: Keyboard) -> Content:
        return replace(self, buttons=buttons)

    def with_options(self, options: Options) -> Content:
        return replace(self, options=options)

    def buttons_json(self) -> list[list[dict[str, str]]]:
        return [[{"text": b.label, "url": b.url} for b in row] for row in self.buttons]

    @classmethod
    def of(cls, row: MessageHistory) -> Content:
        """The content stored on a message row."""
        buttons = tuple(tuple(Button(b["text"], b["url"]) for b in line) for line in row.buttons)
        options = Options(row.silent, row.protected, row.link_preview)
        return cls(row.kind, row.text, tuple(row.entities), row.file_id, buttons, options)


def stored(
    content: Content, author_id: int, selection_json: dict[str, Any], **row: Any
) -> MessageHistory:
    """A message row holding `content` (its text, file, buttons and options); `row` gives
    the rest (recipients, status, times, links)."""
    return MessageHistory(
        author_id=author_id,
        kind=content.kind,
        text=content.text,
        entities=list(content.entities),
        file_id=content.file_id,
        buttons=content.buttons_json(),
        silent=content.options.silent,
        protected=content.options.protected,
        link_preview=content.options.preview,
        selection=selection_json,
        **row,
    )


class UnsupportedContent(Exception):
    """The message is of a kind Herald cannot broadcast (sticker, poll, album...)."""


class EmptyContent(Exception):
    """The text has nothing a person could read: only spaces or invisible characters."""


_INVISIBLE_CATEGORIES = {"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Mn", "Me"}
_BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}
"""Hangul fillers and the blank braille pattern: letters or symbols that draw nothing."""


def has_visible(text: str) -> bool:
    """True if some character of `text` draws something on the screen."""
    return any(
        unicodedata.category(ch) not in _INVISIBLE_CATEGORIES and ch not in _BLANK_LETTERS
        for ch in text
    )


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
        if not has_visible(message.text):
            raise EmptyContent
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


Sender = Callable[[int], Awaitable[int]]

_ENDPOINTS: dict[MessageKind, str] = {
    MessageKind.TEXT: "sendMessage",
    MessageKind.PHOTO: "sendPhoto",
    MessageKind.VIDEO: "sendVideo",
    MessageKind.DOCUMENT: "sendDocument",
    MessageKind.ANIMATION: "sendAnimation",
    MessageKind.AUDIO: "sendAudio",
    MessageKind.VOICE: "sendVoice",
}

# make_sender and the action senders call the API through do_api_request on purpose; PTB suggests
# the typed methods instead, which would parse every answer into a Message we never use.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.\w+' instead", category=PTBUserWarning)


Values = Callable[[int], Awaitable[Mapping[str, str]]]
"""A recipient's placeholder values, by chat id (see bot.delivery.personal)."""


def personalises(content: Content) -> bool:
    """Whether the text, caption or a button link has placeholders (or `{{`/`}}`) to fill."""
    links = (button.url for row in content.buttons for button in row)
    return uses_braces(content.text) or any(uses_braces(link) for link in links)


def filled(content: Content, values: Mapping[str, str] | None) -> dict[str, Any]:
    """The parameters that differ per recipient: text or caption with their entities moved,
    and button links with the values URL-encoded; with no `values`, as written."""
    text, entities = content.text, [dict(e) for e in content.entities]
    rows = content.buttons
    if values is not None:
        text, entities = fill(content.text, content.entities, values)
        quoted = {k: quote(v, safe="") for k, v in values.items()}
        rows = tuple(
            tuple(Button(b.label, fill(b.url, (), quoted)[0]) for b in row) for row in rows
        )
    params: dict[str, Any] = {}
    if content.kind is MessageKind.TEXT:
        params["text"] = text
        if entities:
            params["entities"] = entities
    else:
        if text:
            params["caption"] = text
        if entities:
            params["caption_entities"] = entities
    keyboard = markup(rows)
    if keyboard is not None:
        params["reply_markup"] = keyboard.to_dict()
    return params


def make_sender(
    bot: Bot, content: Content, paid: bool = False, values: Values | None = None
) -> Sender:
    """A function that sends `content` to one chat and returns Telegram's message id.

    Parameters are built once, and the raw answer is read for its id only: turning each answer
    into a `Message` costs more CPU than the rest of the bookkeeping of a broadcast. With
    `values`, placeholders are filled per recipient.
    """
    params = filled(content, None)
    if content.kind is not MessageKind.TEXT:
        params[content.kind.value] = content.file_id
    if paid:
        params["allow_paid_broadcast"] = True
    if content.options.silent:
        params["disable_notification"] = True
    if content.options.protected:
        params["protect_content"] = True
    if content.kind is MessageKind.TEXT and not content.options.preview:
        params["link_preview_options"] = {"is_disabled": True}
    endpoint = _ENDPOINTS[content.kind]

    personal = values if values is not None and personalises(content) else None

    async def send(chat_id: int) -> int:
        own = filled(content, await personal(chat_id)) if personal is not None else {}
        result = await bot.do_api_request(
            endpoint, api_kwargs={"chat_id": chat_id, **params, **own}
        )
        if not isinstance(result, dict):
            raise TypeError(f"unexpected {endpoint} answer: {result!r}")
        return int(result["message_id"])

    return send
