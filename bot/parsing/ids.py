"""Telegram user ids as people type them: plain ASCII digits within Telegram's range."""

from __future__ import annotations

import re

MAX_USER_ID = 2**52 - 1
"""Telegram promises user ids of at most 52 significant bits."""

_DIGITS = re.compile(r"[0-9]{1,16}")


def parse_user_id(text: str) -> int | None:
    """The id `text` spells, or None: `²`, `--5`, `٣` or 20 digits are not ids, so they are text."""
    if _DIGITS.fullmatch(text) is None:
        return None
    value = int(text)
    return value if 0 < value <= MAX_USER_ID else None
