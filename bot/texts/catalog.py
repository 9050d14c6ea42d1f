"""The shape every language's catalog fills in, and plural selection by Babel's CLDR rules."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from babel import Locale


@lru_cache(maxsize=4)
def _locale(language: str) -> Locale:
    return Locale.parse(language)


@dataclass(frozen=True, slots=True)
class Plural:
    """Forms of one phrase; `{n}` is the count. Languages fill the CLDR forms they use."""

    one: str
    other: str
    few: str | None = None
    many: str | None = None


@dataclass(frozen=True, slots=True)
class Texts:
    """Every user-facing string; a language that misses one fails type-checking."""

    language: str
    # students
    welcome_default: str
    student_text_reply: str
    # access
    admin_only: str
    admin_only_alert: str
    menu_expired: str
    # admin menu
    admin_menu: str
    menu_streams: str
    menu_back: str
    # commands (set_my_commands descriptions)
    cmd_start: str
    cmd_streams: str
    # streams
    streams_title: str
    streams_empty: str
    stream_line: str
    stream_archived: str
    no_stream_line: str
    members: Plural
    blocked_people: Plural
    # errors
    error_notice: str

    def plural(self, phrase: Plural, n: int) -> str:
        """Pick the CLDR form of `phrase` for `n` and substitute the count."""
        form = _locale(self.language).plural_form(n)
        chosen = getattr(phrase, form, None) or phrase.other
        return chosen.format(n=n)
