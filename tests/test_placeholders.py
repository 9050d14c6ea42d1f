"""Placeholders: known names only, `{{`/`}}` for braces, and entities that stay on the same
words after filling, measured in UTF-16 code units as Telegram does."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.parsing.placeholders import KNOWN, PlaceholderError, check, fill, uses_braces


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, offset: int, length: int) -> str:
    raw = text.encode("utf-16-le")
    return raw[2 * offset : 2 * (offset + length)].decode("utf-16-le")


VALUES = {
    "first_name": "Анна",
    "last_name": "Иванова",
    "full_name": "Анна Иванова",
    "username": "@anna",
    "stream": "3-й поток",
}


def test_fills_known_placeholders_and_braces() -> None:
    text, _ = fill("Hi {first_name} ({stream}) {{not}} }}", [], VALUES)
    assert text == "Hi Анна (3-й поток) {not} }"


@pytest.mark.parametrize("text", ["{name}", "{first_name", "a } b", "{}", "{{first_name}"])
def test_mistakes_are_refused(text: str) -> None:
    with pytest.raises(PlaceholderError):
        check(text)


def test_text_stored_before_placeholders_goes_out_as_written() -> None:
    """An old message with `{x}` in it (retried, or used as a new draft) is not filled."""
    assert uses_braces("config: {x} and {first_name}") is False
    assert uses_braces("Hi {first_name}") is True


def test_plain_text_personalises_nothing() -> None:
    assert check("no braces here") is False
    assert check("{{ only braces }}") is False
    assert check("Dear {full_name}") is True


def test_entities_move_with_emoji_and_cyrillic_around() -> None:
    source = "🎉 {first_name}, курс «{stream}» 👍 ok"
    bold = {"type": "bold", "offset": _units("🎉 "), "length": _units("{first_name}")}
    italic = {"type": "italic", "offset": _units("🎉 {first_name}, курс «{stream}» "), "length": 2}
    tail = {"type": "code", "offset": _units("🎉 {first_name}, курс «{stream}» 👍 "), "length": 2}
    text, entities = fill(source, [bold, italic, tail], VALUES)
    assert text == "🎉 Анна, курс «3-й поток» 👍 ok"
    assert [_cut(text, e["offset"], e["length"]) for e in entities] == ["Анна", "👍", "ok"]


def test_an_emptied_entity_is_dropped() -> None:
    text, entities = fill("x{last_name}y", [{"type": "bold", "offset": 1, "length": 11}], {})
    assert (text, entities) == ("xy", [])


_WORD = st.text(
    alphabet=st.characters(blacklist_characters="{}", blacklist_categories=["Cs"]), min_size=1
)
_PLACE = st.sampled_from([f"{{{name}}}" for name in KNOWN] + ["{{", "}}"])


@given(
    st.lists(st.tuples(_PLACE, _WORD), min_size=1, max_size=6),
    st.dictionaries(st.sampled_from(KNOWN), _WORD | st.just("")),
    st.data(),
)
def test_entities_cover_the_same_words_after_filling(
    chunks: list[tuple[str, str]], values: dict[str, str], data: st.DataObject
) -> None:
    """Each entity over one literal word still covers exactly that word, and no entity
    edge falls inside a surrogate pair."""
    source = "".join(place + word for place, word in chunks)
    entities: list[dict[str, Any]] = []
    position = 0
    for place, word in chunks:
        position += _units(place)
        if data.draw(st.booleans()):
            entities.append({"type": "bold", "offset": position, "length": _units(word)})
        position += _units(word)
    text, moved = fill(source, entities, values)
    words = [_cut(source, e["offset"], e["length"]) for e in entities]
    assert [_cut(text, e["offset"], e["length"]) for e in moved] == words
    raw = text.encode("utf-16-le")
    for entity in moved:
        for edge in (entity["offset"], entity["offset"] + entity["length"]):
            if edge < len(raw) // 2:
                unit = int.from_bytes(raw[2 * edge : 2 * edge + 2], "little")
                assert not 0xDC00 <= unit <= 0xDFFF, "an edge inside a surrogate pair"
