"""URL button lines: `Label - https://url`, with ` | ` between buttons that share a row."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.delivery.content import Button, Keyboard, has_visible

MAX_PER_ROW = 8
MAX_TOTAL = 100
MAX_LABEL = 64
SEPARATOR = " - "
ROW_SEPARATOR = " | "


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


MAX_URL = 2048
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _valid_host(host: str) -> bool:
    """A domain with a dot, as Telegram wants for URL buttons (`localhost` is refused)."""
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return (
        len(labels) >= 2
        and len(ascii_host) <= 253
        and all(_LABEL.fullmatch(label) for label in labels)
    )


def _valid_url(url: str) -> bool:
    """http(s) links to a real-looking host and port, or tg:// links, with no spaces."""
    if len(url) > MAX_URL or any(ch.isspace() or not ch.isprintable() for ch in url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme == "tg":
        return url.startswith("tg://") and len(url) > len("tg://")
    if parts.scheme not in ("http", "https") or port == 0:
        return False
    return parts.hostname is not None and _valid_host(parts.hostname)


def _button(piece: str, line: int) -> Button:
    label, sep, url = piece.rpartition(SEPARATOR)
    if not sep:
        raise ButtonError(line, ButtonProblem.NO_SEPARATOR)
    label, url = label.strip(), url.strip()
    if not has_visible(label):
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
