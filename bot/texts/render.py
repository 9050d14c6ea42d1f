"""Filling catalog templates: bot messages are HTML, so every value is escaped unless marked safe.

Messages go out with HTML parse mode (the application's default), so `html()` is the one way a
value reaches a message: text typed by people, names and titles are escaped; fragments built by
`html()` itself are `Markup` and pass through as they are. Alerts on buttons are plain text and
use `str.format`.
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup

ECHO_LIMIT = 64
ELLIPSIS = "…"


def html(template: str, /, **values: object) -> Markup:
    """`template` filled with `values`, each escaped unless it is already `Markup`."""
    return Markup(template).format(**values)


def join(parts: Iterable[str], separator: str = "\n") -> Markup:
    """Join HTML fragments; plain strings among them are escaped."""
    return Markup(separator).join(parts)


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """A person's input as quoted back to them: shortened to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + ELLIPSIS
