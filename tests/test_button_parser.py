"""Button lines: examples and properties (round trip, all-or-nothing, the right line number)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.delivery.content import Button, has_visible
from bot.parsing.buttons import (
    MAX_PER_ROW,
    ButtonError,
    ButtonProblem,
    format_buttons,
    parse_buttons,
)


def test_rows_and_separators() -> None:
    rows = parse_buttons(
        "Site - https://example.org | Chat - tg://resolve?domain=course\n\n"
        "  Rules - A - B - http://x.io/rules?a=1  \n"
    )
    assert rows == (
        (Button("Site", "https://example.org"), Button("Chat", "tg://resolve?domain=course")),
        (Button("Rules - A - B", "http://x.io/rules?a=1"),),
    )


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("Site https://example.org", 1, ButtonProblem.NO_SEPARATOR),
        ("Ok - https://a.org\n - https://b.org", 2, ButtonProblem.EMPTY_LABEL),
        ("Ok - https://a.org\nBad - ftp://b.org", 2, ButtonProblem.BAD_URL),
        ("Bad - https://", 1, ButtonProblem.BAD_URL),
        ("Bad - javascript:alert(1)", 1, ButtonProblem.BAD_URL),
        ("Bad - https://a b.org", 1, ButtonProblem.BAD_URL),
        ("L" * 65 + " - https://a.org", 1, ButtonProblem.LABEL_TOO_LONG),
        (" | ".join(["A - https://a.org"] * 9), 1, ButtonProblem.ROW_TOO_LONG),
        ("\n".join([" | ".join(["A - https://a.org"] * 8)] * 13), 13, ButtonProblem.TOO_MANY),
        ("  \n\n", 0, ButtonProblem.EMPTY),
    ],
)
def test_bad_lines(text: str, line: int, problem: ButtonProblem) -> None:
    with pytest.raises(ButtonError) as info:
        parse_buttons(text)
    assert (info.value.line, info.value.problem) == (line, problem)


labels = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="|"
        ),
        min_size=1,
        max_size=64,
    )
    .map(str.strip)
    .filter(lambda s: has_visible(s) and " - " not in s and len(s) <= 64)
)
urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}.org/{path}",
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
    st.from_regex(r"[a-z0-9_/?=&.-]{0,20}", fullmatch=True),
)
buttons = st.builds(Button, labels, urls)
keyboards = st.lists(
    st.lists(buttons, min_size=1, max_size=MAX_PER_ROW).map(tuple), min_size=1, max_size=12
).map(tuple)


@given(keyboards)
def test_format_then_parse_is_identity(rows: tuple[tuple[Button, ...], ...]) -> None:
    assert parse_buttons(format_buttons(rows)) == rows


@given(
    keyboards, st.integers(min_value=0, max_value=11), st.sampled_from(["no link", "x - ftp://a"])
)
def test_one_bad_line_names_its_number(
    rows: tuple[tuple[Button, ...], ...], at: int, bad: str
) -> None:
    lines = format_buttons(rows).splitlines()
    at = min(at, len(lines))
    lines.insert(at, bad)
    with pytest.raises(ButtonError) as info:
        parse_buttons("\n".join(lines))
    assert info.value.line == at + 1


@given(st.text(max_size=300))
def test_any_text_parses_or_raises_button_error(text: str) -> None:
    try:
        rows = parse_buttons(text)
    except ButtonError as exc:
        assert 0 <= exc.line <= len(text.splitlines())
        return
    assert 1 <= sum(len(row) for row in rows) <= 100
    assert all(1 <= len(row) <= MAX_PER_ROW for row in rows)
