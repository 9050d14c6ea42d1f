"""Personalised text: `{first_name}` and friends filled per recipient, with Telegram's
formatting entities (UTF-16 offsets) moved to stay on the same words."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KNOWN = ("first_name", "last_name", "full_name", "username", "stream")
"""The placeholders an admin may write; README lists what each falls back to."""

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class PlaceholderError(ValueError):
    """Text with an unknown placeholder or a lone brace; `found` is what was written."""

    def __init__(self, found: str) -> None:
        super().__init__(found)
        self.found = found


@dataclass(frozen=True, slots=True)
class _Part:
    start: int  # in the original text (characters)
    end: int
    name: str | None  # a placeholder; None for `{{` / `}}` (one brace)


def _parts(text: str) -> list[_Part]:
    parts = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(_Part(match.start(), match.end(), None))
            continue
        name = match.group(1)
        if name is None or name.strip() not in KNOWN:
            raise PlaceholderError(token)
        parts.append(_Part(match.start(), match.end(), name.strip()))
    return parts


def check(text: str) -> bool:
    """Whether `text` personalises anything; raises PlaceholderError for a mistake in it."""
    return any(part.name is not None for part in _parts(text))


def uses_braces(text: str) -> bool:
    """Whether filling `text` changes it at all (placeholders or `{{`/`}}`). A text with
    mistakes is not filled: it was stored before placeholders existed (an old message sent
    again, retried or scheduled), so it goes out exactly as written, as it did then."""
    try:
        return bool(_parts(text))
    except PlaceholderError:
        return False


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fill(
    text: str, entities: Sequence[Mapping[str, Any]], values: Mapping[str, str]
) -> tuple[str, list[dict[str, Any]]]:
    """`text` with every placeholder replaced, and `entities` moved to cover the same words.

    An entity edge inside a placeholder moves to the edge of its value: a bold `{first_name}`
    is a bold name. Entities left empty (a bold placeholder whose value is empty) are dropped.
    """
    parts = _parts(text)
    if not parts:
        return text, [dict(e) for e in entities]
    # Segments in UTF-16 units: (old start, old end, new start, new end, literal?).
    segments: list[tuple[int, int, int, int, bool]] = []
    pieces: list[str] = []
    old = new = 0
    cursor = 0
    for part in parts:
        literal = text[cursor : part.start]
        if literal:
            size = _units(literal)
            segments.append((old, old + size, new, new + size, True))
            pieces.append(literal)
            old, new = old + size, new + size
        token = text[part.start : part.end]
        value = token[0] if part.name is None else values.get(part.name, "")
        size, grown = _units(token), _units(value)
        segments.append((old, old + size, new, new + grown, False))
        pieces.append(value)
        old, new = old + size, new + grown
        cursor = part.end
    rest = text[cursor:]
    if rest:
        size = _units(rest)
        segments.append((old, old + size, new, new + size, True))
        pieces.append(rest)

    def moved(position: int, is_end: bool) -> int:
        for o_start, o_end, n_start, n_end, literal in segments:
            if position == o_start:
                return n_start
            if o_start < position < o_end:
                if literal:
                    return n_start + position - o_start
                return n_end if is_end else n_start
        return segments[-1][3] if segments else position

    shifted = []
    for entity in entities:
        start = moved(int(entity["offset"]), False)
        end = moved(int(entity["offset"]) + int(entity["length"]), True)
        if end > start:
            shifted.append({**entity, "offset": start, "length": end - start})
    return "".join(pieces), shifted
