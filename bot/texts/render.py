"""Filling catalog templates: bot messages are HTML, so every value is escaped unless marked safe.

Messages go out with HTML parse mode (the application's default), so `html()` is the one way a
value reaches a message: text typed by people, names and titles are escaped; fragments built by
`html()` itself are `Markup` and pass through as they are. Alerts on buttons are plain text and
use `str.format`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from markupsafe import Markup

from bot.texts.catalog import Texts

ECHO_LIMIT = 64
ELLIPSIS = "…"
MESSAGE_LIMIT = 4096
"""Telegram's limit for a message's text; HTML source is measured, which is never shorter."""


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


def fit(
    head: Sequence[str],
    items: Sequence[str],
    more: Callable[[int], str],
    tail: Sequence[str] = (),
    limit: int = MESSAGE_LIMIT,
    separator: str = "\n",
) -> Markup:
    """`head`, as many of `items` as fit with `tail` under `limit`, then `more(n)` for the rest.

    Lists that grow with the data (streams, failures, rows of a file) go through here, so a
    screen never becomes a message Telegram refuses.
    """
    step = len(separator)
    budget = limit - len(join([*head, *tail], separator)) - 2 * step
    shown: list[str] = []
    for index, item in enumerate(items):
        rest = len(items) - index - 1
        reserve = len(more(rest)) + step if rest else 0
        if len(item) + step + reserve > budget:
            shown.append(more(len(items) - index))
            break
        shown.append(item)
        budget -= len(item) + step
    return join([*head, *shown, *tail], separator)


def more(texts: Texts) -> Callable[[int], str]:
    """The "…and N more" line for capped lists, in the admin's language."""
    return lambda n: texts.plural(texts.more_items, n)


def capped(items: Sequence[str], most: int, more: Callable[[int], str]) -> list[str]:
    """At most `most` items, the rest summed up by `more(n)`."""
    if len(items) <= most:
        return list(items)
    return [*items[:most], more(len(items) - most)]
