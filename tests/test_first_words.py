"""The first words of a message in lists: examples and properties (length, prefix, word cut)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.texts import CATALOGS
from bot.texts.render import ELLIPSIS
from bot.views import first_words, words
from db.models import MessageHistory, MessageKind


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("Exam on Friday", 50, "Exam on Friday"),
        ("  Exam\n\non   Friday ", 50, "Exam on Friday"),
        ("Exam moved to Friday, room 204", 24, "Exam moved to Friday…"),
        ("Exam moved to Friday room", 20, "Exam moved to…"),
        ("Exam moved to Friday room", 21, "Exam moved to Friday…"),
        ("Hi {first_name}, see you", 18, "Hi {first_name}…"),
        ("Supercalifragilistic", 10, "Supercali…"),
        (
            "- https://example.com/forms/d/e/1FAIpQLSe/viewform",
            30,
            "- https://example.com/forms/d…",
        ),
        ("— " + "x" * 60, 10, "— xxxxxxx…"),
        ("—" * 60, 5, "————…"),
        ("", 50, ""),
    ],
)
def test_examples(text: str, limit: int, shown: str) -> None:
    assert words(text, limit) == shown


def test_a_file_without_a_caption_is_named_in_the_readers_language() -> None:
    photo = MessageHistory(kind=MessageKind.PHOTO, text="")
    assert first_words(photo, CATALOGS["en"]) == "[photo]"
    assert first_words(photo, CATALOGS["ru"]) == "[фото]"
    captioned = MessageHistory(kind=MessageKind.PHOTO, text="Timetable")
    assert first_words(captioned, CATALOGS["ru"]) == "Timetable"


def test_every_kind_has_a_name_in_every_language() -> None:
    for texts in CATALOGS.values():
        assert set(texts.media_names) == {kind.value for kind in MessageKind}


PUNCTUATION = " ,;:-–—"


@given(st.text(st.sampled_from("ab Я,;-–—\n{}")), st.integers(min_value=2, max_value=60))
def test_within_the_limit_a_prefix_cut_after_a_word(text: str, limit: int) -> None:
    flat = " ".join(text.split())
    shown = words(text, limit)
    assert len(shown) <= limit
    if len(flat) <= limit:
        assert shown == flat
        return
    assert shown.endswith(ELLIPSIS)
    kept = shown.removesuffix(ELLIPSIS)
    assert flat.startswith(kept)
    assert kept.strip(), "something of the text is always shown"
    if any(c not in PUNCTUATION for c in flat[: limit - 1]):
        assert any(c not in PUNCTUATION for c in kept), (flat, kept)
    whole = flat[: max(0, flat[:limit].rfind(" "))]
    if whole.strip(PUNCTUATION):
        # Some whole word fits, so no word is cut.
        rest = flat[len(kept) :]
        assert rest.lstrip(",;:-–—")[:1] in ("", " "), (flat, kept)
