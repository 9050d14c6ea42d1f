"""URL button lines: `Label - https://url`, with ` | ` between buttons that share a row."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.delivery.content import Button, Keyboard

MAX_PER_ROW = 8
MAX_TOTAL = 100
MAX_LABEL = 64
SEPARATOR = " - "
ROW_SEPARATOR = " | "
SCHEMES = ("http", "https", "tg")


class ButtonProblem(enum.Enum):
    NO_SEPARATOR = "no_separator"
    EMPTY_LABEL = "empty_label"
    LABEL_TOO_LONG = "label_too_long"
    BAD_URL = "bad_url"
    ROW_TOO_LONG = "row_too_long"
    TOO_MANY = "too_many"
    EMPTY = "empty"


@dataclass
class ButtonError(Exception):
    """What is wrong and on which line (1-based; 0 for the whole text)."""

    line: int
    problem: ButtonProblem


def _valid_url(url: str) -> bool:
    if any(ch.isspace() for ch in url):
        return False
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        return False
    if parts.scheme == "tg":
        return bool(parts.netloc or parts.path)
    return bool(parts.hostname)


def _button(piece: str, line: int) -> Button:
    label, sep, url = piece.rpartition(SEPARATOR)
    if not sep:
        raise ButtonError(line, ButtonProblem.NO_SEPARATOR)
    label, url = label.strip(), url.strip()
    if not label:
        raise ButtonError(line, ButtonProblem.EMPTY_LABEL)
    if len(label) > MAX_LABEL:
        raise ButtonError(line, ButtonProblem.LABEL_TOO_LONG)
    if not _valid_url(url):
        raise ButtonError(line, ButtonProblem.BAD_URL)
    return Button(label, url)


def parse_buttons(text: str) -> Keyboard:
    """Rows of buttons, all or nothing: the first bad line raises ButtonError."""
    rows: list[tuple[Button, ...]] = []
    count = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        row = tuple(_button(piece, number) for piece in raw.split(ROW_SEPARATOR))
        if len(row) > MAX_PER_ROW:
            raise ButtonError(number, ButtonProblem.ROW_TOO_LONG)
        count += len(row)
        if count > MAX_TOTAL:
            raise ButtonError(number, ButtonProblem.TOO_MANY)
        rows.append(row)
    if not rows:
        raise ButtonError(0, ButtonProblem.EMPTY)
    return tuple(rows)


def format_buttons(rows: Keyboard) -> str:
    """The text form `parse_buttons` reads back; shown when an admin edits buttons."""
    return "\n".join(
        ROW_SEPARATOR.join(f"{b.label}{SEPARATOR}{b.url}" for b in row) for row in rows
    )
