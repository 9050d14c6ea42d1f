"""Small renderings shared by the queue, history and audit screens."""

from __future__ import annotations

from markupsafe import Markup

from bot.delivery.content import Options
from bot.texts import Texts
from bot.texts.render import ELLIPSIS, html
from db.models import MessageHistory
from db.repo.audience import Selection

WORDS = 40
STREAMS_NAMED = 3
"""A list line names this many streams and counts the rest, so it stays one line."""


_TRAILING = " ,;:-–—"
"""Punctuation that would dangle before the ellipsis."""


def words(text: str, limit: int = WORDS) -> str:
    """The start of a text on one line, at most `limit` characters, cut after a whole word
    (inside one when no word fits, or only a bullet or dash); placeholders stay as written."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    hard = flat[: limit - 1]
    cut = hard.rsplit(" ", 1)[0] if flat[limit - 1] != " " and " " in hard else hard
    return (cut.rstrip(_TRAILING) or hard.rstrip()) + ELLIPSIS


def first_words(message: MessageHistory, texts: Texts, limit: int = WORDS) -> str:
    """What a message says, for lists and headers: its first words, or for a file without a
    caption the kind of file (`[photo]`), in the reader's language."""
    return words(message.text, limit) or texts.media_names[message.kind.value]


def recipients_summary(selection: Selection, titles: dict[int, str], texts: Texts) -> str:
    """`3-й поток, No stream, 2 hand-picked`: who a stored selection names."""
    if selection.everyone:
        parts = [texts.recipients_everyone]
    else:
        parts = [titles.get(i, f"#{i}") for i in sorted(selection.stream_ids)]
        if len(parts) > STREAMS_NAMED:
            rest = len(parts) - STREAMS_NAMED
            parts = [*parts[:STREAMS_NAMED], texts.plural(texts.more_streams, rest)]
        if selection.no_stream:
            parts.append(texts.pick_no_stream)
    if selection.user_ids:
        parts.append(texts.plural(texts.recipients_picked, len(selection.user_ids)))
    return ", ".join(parts)


def person_name(names: dict[int, str], person_id: int, texts: Texts) -> str:
    return names.get(person_id) or texts.author_unknown.format(id=person_id)


def options_line(texts: Texts, options: Options) -> Markup | None:
    """`Options: silent · protected · no link preview`: only what differs from a plain send."""
    chosen = [
        texts.option_names[name]
        for name, on in (
            ("silent", options.silent),
            ("protected", options.protected),
            ("no_preview", not options.preview),
        )
        if on
    ]
    return html(texts.options_line, options=" · ".join(chosen)) if chosen else None
