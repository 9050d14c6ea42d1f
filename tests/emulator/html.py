"""Telegram's HTML parse mode: turns markup into plain text plus entities (UTF-16 offsets)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.entities: list[dict[str, Any]] = []
        self._open: list[tuple[str, int, dict[str, Any]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = _TAGS.get(tag)
        extra: dict[str, Any] = {}
        if tag == "span" and ("class", "tg-spoiler") in attrs:
            kind = "spoiler"
        if kind == "text_link":
            extra["url"] = dict(attrs).get("href") or ""
        if kind is None:
            raise ValueError(f'Bad Request: can\'t parse entities: unsupported start tag "{tag}"')
        self._open.append((kind, utf16_len(self.text), extra))

    def handle_endtag(self, tag: str) -> None:
        if not self._open:
            raise ValueError(f'Bad Request: can\'t parse entities: unexpected end tag "{tag}"')
        kind, start, extra = self._open.pop()
        length = utf16_len(self.text) - start
        if length:
            self.entities.append({"type": kind, "offset": start, "length": length, **extra})

    def handle_data(self, data: str) -> None:
        self.text += data


_BARE_LT = re.compile(r"<(?!/?[a-zA-Z][\w-]*(?:\s[^<>]*)?>)")
_BARE_AMP = re.compile(r"&(?!(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);)")


def parse_html(markup: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities sorted by offset, as Telegram stores an HTML-formatted message.

    Like Telegram, a `<` or `&` that starts no tag or entity is refused: it means some text
    went into HTML without being escaped.
    """
    for pattern in (_BARE_LT, _BARE_AMP):
        bare = pattern.search(markup)
        if bare is not None:
            raise ValueError(
                "Bad Request: can't parse entities: unsupported character "
                f"{bare.group()!r} at byte offset {bare.start()}"
            )
    parser = _Parser()
    parser.feed(markup)
    parser.close()
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return parser.text, entities
