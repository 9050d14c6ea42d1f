"""People and streams management: search, cards, moves, CSV import and export, streams."""

from __future__ import annotations

import asyncio
import csv
import io
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.callbacks import (
    ImportAction,
    ImportCb,
    MenuAction,
    MenuCb,
    PeopleAction,
    PeopleCb,
    StreamAction,
    StreamCb,
)
from bot.cli import import_users
from bot.parsing.people_csv import FileError, FileProblem, RowProblem, parse_people_csv
from bot.people.importer import CHUNK, QUIET, recover
from db.engine import create_engine
from db.models import AuditLog, ImportJournal, ImportRun, MessageHistory, Stream, User
from db.repo import imports
from tests.emulator import Emulator
from tests.harness import (
    ADMIN_ID,
    JSON,
    ROOT,
    STUDENT_ID,
    Harness,
    button_data,
    buttons,
    make_config,
    row_button,
    running,
)


async def _user(herald: Harness, user_id: int) -> User | None:
    async with herald.sessions() as session:
        return await session.get(User, user_id)


async def _actions(herald: Harness) -> list[str]:
    async with herald.sessions() as session:
        return list((await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all())


async def _upload(herald: Harness, content: bytes, name: str = "people.csv") -> JSON:
    await herald.feed(herald.emulator.user_document(ADMIN_ID, name, content))
    return herald.last(ADMIN_ID)


# ----- parsing -----------------------------------------------------------------------------


def test_csv_parsing_examples() -> None:
    parsed = parse_people_csv(
        "\ufeffuser_id;stream;username;first_name\n10;3rd_stream;@anna_k;Анна\n11;;;\n\n".encode()
    )
    assert [(r.line, r.user_id, r.stream, r.username, r.first_name) for r in parsed.rows] == [
        (2, 10, "3rd_stream", "anna_k", "Анна"),
        (3, 11, None, None, None),
    ]
    parsed = parse_people_csv(b"stream,user_id\nx,1\nx,abc\nx,1\nx,2,extra\nx,-5\n")
    assert [(p.line, p.problem, p.detail) for p in parsed.problems] == [
        (3, RowProblem.BAD_ID, "abc"),
        (4, RowProblem.DUPLICATE, "2"),
        (5, RowProblem.COLUMNS, "3/2"),
        (6, RowProblem.BAD_ID, "-5"),
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", FileProblem.EMPTY),
        (b"user_id,stream\n", FileProblem.EMPTY),
        ("user_id,stream\n1,поток\n".encode("cp1251"), FileProblem.NOT_UTF8),
        (b"id,stream\n1,x\n", FileProblem.MISSING_COLUMN),
        (b"user_id\n1\n", FileProblem.MISSING_COLUMN),
    ],
)
def test_csv_file_problems(data: bytes, problem: FileProblem) -> None:
    with pytest.raises(FileError) as info:
        parse_people_csv(data)
    assert info.value.problem is problem


# ----- search and cards ----------------------------------------------------------------------


async def test_users_counts_search_and_card(herald: Harness) -> None:
    herald.emulator.add_user(6001, first_name="Анна", last_name="Иванова", username="anna_i")
    herald.emulator.add_user(6002, first_name="Zoë", username="zoe_z")
    await herald.enroll([6001], "3rd_stream")
    await herald.enroll([6002])
    await herald.feed(herald.emulator.member_status(6002, "kicked"))
    reply = await herald.say(ADMIN_ID, "/users")
    assert reply["text"].startswith(
        "People\nRegistered: 2 · blocked the bot: 1 · not started yet: 0\n\n"
        "🔎 Type a name, a @username or an id to find someone."
    )
    assert buttons(reply)[-1] == [
        ("📤 Export CSV", PeopleCb(PeopleAction.EXPORT).pack()),
        ("⬅️ Menu", MenuCb(MenuAction.HOME).pack()),
    ]
    for query in ("АННА", "@anna_i", "anna", "6001", "Иванова"):
        found = await herald.say(ADMIN_ID, f"/users {query}")
        assert f"«{query}»: 1 person found" in found["text"], query
        assert buttons(found)[0][0][0] == "Анна Иванова @anna_i"
    found = await herald.say(ADMIN_ID, "/users zoë")
    assert buttons(found)[0][0][0] == "Zoë @zoe_z ⛔"
    nothing = await herald.say(ADMIN_ID, "/users 100%_x")
    assert "Nobody matches «100%_x»" in nothing["text"]

    found = await herald.say(ADMIN_ID, "/users anna")
    await herald.tap(ADMIN_ID, found, button_data(found, "Анна"))
    card = found["text"].splitlines()
    assert card[:3] == ["Анна Иванова @anna_i", "id 6001", "Stream: 3-й поток"]
    assert "Status: can receive messages" in card and "Messages received: 0" in card

    await herald.tap(ADMIN_ID, found, button_data(found, "4-й поток"))
    assert found["text"].splitlines()[0] == "✅ Moved to 4-й поток."
    assert "Stream: 4-й поток" in found["text"]
    third, fourth = herald.stream_id("3rd_stream"), herald.stream_id("4th_stream")
    undo = PeopleCb(PeopleAction.UNDO, 6001, third, fourth).pack()
    assert buttons(found)[0] == [("↩️ Undo", undo)]
    assert buttons(found)[1] == [
        ("3-й поток", PeopleCb(PeopleAction.MOVE, 6001, herald.stream_id("3rd_stream")).pack()),
        ("✅ 4-й поток", PeopleCb(PeopleAction.MOVE, 6001, herald.stream_id("4th_stream")).pack()),
    ]
    await herald.tap(ADMIN_ID, found, button_data(found, "Undo"))
    assert found["text"].splitlines()[0] == "↩️ Undone: back in 3-й поток."
    assert "Stream: 3-й поток" in found["text"]
    assert "Undo" not in str(buttons(found))
    await herald.tap(ADMIN_ID, found, undo)
    assert herald.emulator.callback_answers[-1]["text"].startswith("This menu has expired.")
    person = await _user(herald, 6001)
    assert person is not None and person.stream_id == third
    await herald.tap(ADMIN_ID, found, button_data(found, "Remove from stream"))
    assert found["text"].splitlines()[0] == "✅ Taken out of 3-й поток."
    assert "Stream: No stream" in found["text"]
    person = await _user(herald, 6001)
    assert person is not None and person.stream_id is None
    await herald.tap(ADMIN_ID, found, button_data(found, "Undo"))
    person = await _user(herald, 6001)
    assert person is not None and person.stream_id == herald.stream_id("3rd_stream")
    assert await _actions(herald) == ["move", "move", "remove", "move"]
    log = await herald.say(ADMIN_ID, "/audit")
    lines = log["text"].splitlines()
    assert lines[1].endswith("moved to a stream: Анна Иванова · 3-й поток"), lines
    assert lines[2].endswith("took out of a stream: Анна Иванова · 3-й поток"), lines
    assert lines[4].endswith("moved to a stream: Анна Иванова · 4-й поток"), lines


async def test_a_typed_name_after_users_is_a_search(herald: Harness) -> None:
    """The /users screen says to type a name, and the next text is that search (not the
    menu); any other command ends it, and then a text is not a search any more."""
    await herald.enroll([6001], "3rd_stream", name="Olga")
    await herald.say(ADMIN_ID, "/users")
    found = await herald.say(ADMIN_ID, "olga")
    assert "«olga»: 1 person found" in found["text"]
    assert buttons(found)[0][0][0].startswith("Olga6001")
    again = await herald.say(ADMIN_ID, "nobody-like-this")
    assert "Nobody matches «nobody-like-this»" in again["text"]
    menu = await herald.say(ADMIN_ID, "/start")
    await herald.tap(ADMIN_ID, menu, button_data(menu, "People"))
    assert "Type a name" in menu["text"]
    found = await herald.say(ADMIN_ID, "olga")
    assert "«olga»: 1 person found" in found["text"]
    await herald.say(ADMIN_ID, "/stats")
    after = await herald.say(ADMIN_ID, "olga")
    assert "found" not in after["text"]


async def test_search_results_page(herald: Harness) -> None:
    await herald.enroll(list(range(7001, 7020)), name="Pat")
    found = await herald.say(ADMIN_ID, "/users pat")
    assert [label for label, _ in buttons(found)[8]] == ["1/3", "▶"]
    await herald.tap(ADMIN_ID, found, button_data(found, "▶"))
    assert buttons(found)[0][0][0] == "Pat7009 @s7009"


async def test_message_this_person(herald: Harness) -> None:
    await herald.enroll([6001, 6002], "3rd_stream")
    found = await herald.say(ADMIN_ID, "/users 6002")
    await herald.tap(ADMIN_ID, found, button_data(found, "Student6002"))
    await herald.tap(ADMIN_ID, found, button_data(found, "Message this person"))
    assert herald.last(ADMIN_ID)["text"].startswith("New message (1/4)")
    await herald.say(ADMIN_ID, "Just for you")
    menu = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, menu, button_data(menu, "Skip"))
    summary = herald.last(ADMIN_ID)
    assert summary["text"] == "Review (4/4): 1 person will get it\n• Hand-picked: 1"
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Send now"))
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Yes, send"))
    await herald.deliveries_done()
    assert herald.emulator.last_bot_message(6002)["text"] == "Just for you"
    assert herald.emulator.last_bot_message(6001)["text"].startswith("Hello!")
    card = await herald.say(ADMIN_ID, "/users 6002")
    await herald.tap(ADMIN_ID, card, button_data(card, "Student6002"))
    assert "Messages received: 1" in card["text"]
    assert card["text"].splitlines()[-1].endswith(" · «Just for you»")


# ----- import and export ---------------------------------------------------------------------


async def test_import_dry_run_then_apply(herald: Harness) -> None:
    await herald.enroll([6001], "3rd_stream")
    content = (
        b"user_id,stream,username,first_name,last_name\n"
        b"6001,4th_stream,,,\n"
        b"8001,3rd_stream,new_one,New,Person\n"
        b"8002,,,Loose,\n"
    )
    report = await _upload(herald, content)
    assert report["text"] == (
        "Import check (nothing is changed yet)\n"
        "Rows: 3 · new people: 2 · updated: 1\n"
        "Apply makes all these changes at once."
    )
    assert await _user(herald, 8001) is None
    await herald.tap(ADMIN_ID, report, button_data(report, "Apply"))
    assert report["text"] == "Imported: 2 new (they have not started the bot yet), 1 updated."
    moved, new = await _user(herald, 6001), await _user(herald, 8001)
    assert moved is not None and moved.stream_id == herald.stream_id("4th_stream")
    assert new is not None and new.started_at is None and new.username == "new_one"
    assert new.stream_id == herald.stream_id("3rd_stream")
    assert buttons(report) == []
    await herald.tap(ADMIN_ID, report, ImportCb(ImportAction.APPLY, "zzz").pack())
    assert herald.emulator.callback_answers[-1]["text"].startswith("This menu has expired")
    assert await _actions(herald) == ["import"]

    reply = await herald.say(ADMIN_ID, "/users")
    assert "Registered: 3 · blocked the bot: 0 · not started yet: 2" in reply["text"]

    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, "Hi all")
    menu = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, menu, button_data(menu, "Skip"))
    picker = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, picker, button_data(picker, "Everyone"))
    assert picker["text"].startswith(
        "Recipients (3/4): 1 person selected\nNever started the bot, left out: 2 people"
    )
    await herald.say(ADMIN_ID, "/cancel")

    herald.emulator.add_user(8001, first_name="New")
    await herald.say(8001, "/start")
    started = await _user(herald, 8001)
    assert started is not None and started.started_at is not None
    assert started.stream_id == herald.stream_id("3rd_stream")


async def _import_state(herald: Harness) -> tuple[list[int], int, list[str]]:
    async with herald.sessions() as session:
        ids = list((await session.scalars(select(User.id).order_by(User.id))).all())
        journal = await session.scalar(select(func.count()).select_from(ImportJournal)) or 0
        runs = [str(s) for s in (await session.scalars(select(ImportRun.status))).all()]
    return ids, journal, runs


def _refusing_trigger(dialect: str, user_id: int) -> list[str]:
    """A trigger that makes the database refuse to insert one person, in the dialect's SQL."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER refuse_one BEFORE INSERT ON users WHEN NEW.id = {user_id} "
            "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
        ]
    return [
        "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.id = {user_id} THEN RAISE EXCEPTION 'refused by a test trigger'; END IF; "
        "RETURN NEW; END $$",
        "CREATE TRIGGER refuse_one BEFORE INSERT ON users "
        "FOR EACH ROW EXECUTE FUNCTION refuse_one()",
    ]


async def test_import_apply_is_all_or_nothing(herald: Harness) -> None:
    """The database refuses a row in the third chunk: the chunks already applied are taken
    back, so nobody moves and nobody is added."""
    await herald.enroll([6001], "3rd_stream")
    rows = ["user_id,stream", "6001,4th_stream"]
    rows += [f"{i},3rd_stream" for i in range(100_000, 100_000 + 3 * CHUNK)]
    report = await _upload(herald, ("\n".join(rows) + "\n").encode())
    refused = 100_000 + 2 * CHUNK
    async with herald.sessions.begin() as session:
        dialect = herald.app.bot_data.services.engine.dialect.name
        for statement in _refusing_trigger(dialect, refused):
            await session.execute(text(statement))
    await herald.tap(ADMIN_ID, report, button_data(report, "Apply"))
    assert report["text"].startswith("The import could not be applied, so nothing was changed")
    assert "refused by a test trigger" in report["text"]
    kept = await _user(herald, 6001)
    assert kept is not None and kept.stream_id == herald.stream_id("3rd_stream")
    assert await _import_state(herald) == ([6001], 0, ["undone"])
    assert "import" not in await _actions(herald)


async def test_import_cut_short_by_a_kill_is_taken_back(
    tmp_path: Path, db_url: str, emulator: Emulator
) -> None:
    async with running(make_config(db_url), emulator) as herald:
        await herald.enroll([6001], "3rd_stream")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[telegram]\ntoken = "{emulator.token}"\n[bot]\nadmins = [{ADMIN_ID}]\n'
        f'[database]\nurl = "{db_url}"\n',
        encoding="utf-8",
    )
    people = tmp_path / "people.csv"
    rows = ["user_id,stream", "6001,4th_stream"]
    rows += [f"{i},3rd_stream" for i in range(100_000, 400_000)]
    people.write_text("\n".join(rows) + "\n", encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bot", "--config", str(config), "import-users", str(people), "--apply"),
        cwd=str(ROOT),
        env={"PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    engine = create_engine(db_url)
    try:
        for _ in range(1200):
            async with engine.connect() as conn:
                journal = await conn.scalar(select(func.count()).select_from(ImportJournal))
            if (journal or 0) > 2 * CHUNK:
                break
            await asyncio.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
        await engine.dispose()
    assert (journal or 0) > 2 * CHUNK, "the import was not under way when killed"

    soon = datetime.now(UTC) + QUIET / 2
    async with running(make_config(db_url), emulator, clock=lambda: soon) as herald:
        ids, _, runs = await _import_state(herald)
        assert runs == ["applying"] and len(ids) > 2, "a live import must not be taken back"
    later = datetime.now(UTC) + QUIET * 2
    async with running(make_config(db_url), emulator, clock=lambda: later) as herald:
        assert await _import_state(herald) == ([6001], 0, ["undone"])
        moved_back = await _user(herald, 6001)
        assert moved_back is not None and moved_back.stream_id == herald.stream_id("3rd_stream")


async def test_an_import_taken_back_by_another_process_stops_writing(herald: Harness) -> None:
    now = datetime.now(UTC)
    async with herald.sessions.begin() as session:
        await imports.begin(session, "k1", ADMIN_ID, 2, now)
        await imports.mark_undone(session, "k1")
    with pytest.raises(imports.TakenBack):
        async with herald.sessions.begin() as session:
            await imports.apply_chunk(
                session, "k1", [imports.Imported(9, None, None, "A", None)], now, now
            )
    assert await _user(herald, 9) is None


def _rows(count: int, first: int = 100_000) -> bytes:
    rows = ["user_id,stream", *(f"{i},3rd_stream" for i in range(first, first + count))]
    return ("\n".join(rows) + "\n").encode()


async def _apply_in_background(herald: Harness, content: bytes) -> JSON:
    """Upload and tap Apply without waiting for the apply to finish; returns its message."""
    report = await _upload(herald, content)
    tap = herald.emulator.callback(ADMIN_ID, report["message_id"], button_data(report, "Apply"))
    await herald.feed(tap, settle=False)
    assert herald.app.bot_data.services.background, "the apply ran inside the handler"
    return report


async def _journalled(herald: Harness, at_least: int) -> None:
    """Wait until the import under way has applied `at_least` people."""
    for _ in range(1000):
        if (await _import_state(herald))[1] >= at_least:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the import did not get under way")


async def test_other_updates_are_answered_while_an_import_applies(herald: Harness) -> None:
    report = await _apply_in_background(herald, _rows(20 * CHUNK))
    await _journalled(herald, CHUNK)
    herald.emulator.add_user(7001, first_name="Waiting")
    await herald.feed(herald.emulator.user_message(7001, "/start"), settle=False)
    assert herald.last(7001)["text"].startswith("Hello!")
    second = await _upload(herald, _rows(10, first=900_000))
    await herald.tap(ADMIN_ID, second, button_data(second, "Apply"))
    assert second["text"] == (
        "Another import is being applied right now. Send this file again when it has finished."
    )
    assert herald.app.bot_data.services.background, "the first import finished too soon to tell"
    await herald.background_done()
    assert report["text"] == (
        f"Imported: {20 * CHUNK} new (they have not started the bot yet), 0 updated."
    )


async def test_an_import_declared_abandoned_while_alive_is_taken_back_whole(
    herald: Harness,
) -> None:
    """A recovery that wrongly thinks the import died (a paused process, a clock jump) fences
    the live import out: it stops, and everything it did is taken back."""
    await herald.enroll([6001], "3rd_stream")
    rows = (
        _rows(20 * CHUNK).decode().replace("user_id,stream\n", "user_id,stream\n6001,4th_stream\n")
    )
    report = await _apply_in_background(herald, rows.encode())
    await _journalled(herald, 2 * CHUNK)
    later = datetime.now(UTC) + 2 * QUIET
    assert len(await recover(herald.sessions, later)) == 1
    await herald.background_done()
    assert report["text"].startswith("The import could not be applied, so nothing was changed")
    kept = await _user(herald, 6001)
    assert kept is not None and kept.stream_id == herald.stream_id("3rd_stream")
    assert await _import_state(herald) == ([6001], 0, ["undone"])


async def test_import_with_problems_cannot_be_applied(herald: Harness) -> None:
    content = (
        b"user_id;stream\n1;3rd_stream\nabc;3rd_stream\n1;4th_stream\n2;9th_stream\n3;9th_stream\n"
    )
    report = await _upload(herald, content)
    assert report["text"].splitlines() == [
        "Import check (nothing is changed yet)",
        "Rows: 5 · new people: 3 · updated: 0 · with problems: 2",
        "Unknown stream «9th_stream» on lines 5, 6",
        "Problems: 2",
        "Line 3: user_id «abc» is not a Telegram id (a positive number)",
        "Line 4: this user_id already appears on line 2",
        "Nothing can be applied until the file is fixed: correct it and send it again.",
    ]
    assert [label for row in buttons(report) for label, _ in row] == ["✖️ Cancel"]
    await herald.tap(ADMIN_ID, report, button_data(report, "Cancel"))
    assert report["text"] == "Import cancelled; nothing was changed."
    async with herald.sessions() as session:
        assert await session.scalar(select(func.count(User.id))) == 0


@pytest.mark.parametrize(
    ("content", "name", "answer"),
    [
        ("user_id,stream\n1,поток\n".encode("cp1251"), "p.csv", "The file is not UTF-8 text."),
        (b"", "p.csv", "The file has no rows."),
        (b"id,stream\n1,x\n", "p.csv", "The header has no «user_id» column."),
        (b"%PDF-1.4", "notes.pdf", "To import people, send a .csv document"),
    ],
)
async def test_import_file_refusals(
    herald: Harness, content: bytes, name: str, answer: str
) -> None:
    mime = "application/pdf" if name.endswith(".pdf") else "text/csv"
    await herald.feed(herald.emulator.user_document(ADMIN_ID, name, content, mime))
    assert herald.last(ADMIN_ID)["text"].startswith(answer)


async def test_large_import_and_export(herald: Harness) -> None:
    rows = ["user_id,stream,first_name"] + [
        f"{i},{'3rd_stream' if i % 2 else '4th_stream'},P{i}" for i in range(100_000, 150_000)
    ]
    report = await _upload(herald, ("\n".join(rows) + "\n").encode())
    assert report["text"].splitlines()[1] == "Rows: 50000 · new people: 50000 · updated: 0"
    await herald.tap(ADMIN_ID, report, button_data(report, "Apply"))
    async with herald.sessions() as session:
        assert await session.scalar(select(func.count(User.id))) == 50_000
    listing = await herald.say(ADMIN_ID, "/users")
    await herald.tap(ADMIN_ID, listing, button_data(listing, "Export CSV"))
    document = herald.last(ADMIN_ID)
    assert document["caption"] == "All people: 50000"
    exported = list(
        csv.DictReader(
            io.StringIO(herald.emulator.files[document["document"]["file_id"]].decode("utf-8-sig"))
        )
    )
    assert len(exported) == 50_000
    assert exported[1] == {
        "user_id": "100001",
        "stream": "3rd_stream",
        "username": "",
        "first_name": "P100001",
        "last_name": "",
        "status": "not_started",
        "joined_at": exported[1]["joined_at"],
        "last_seen_at": exported[1]["last_seen_at"],
    }


async def test_import_from_the_command_line(
    tmp_path: Path, db_url: str, emulator: Emulator
) -> None:
    async with running(make_config(db_url), emulator):
        pass
    config = tmp_path / "config.toml"
    config.write_text(
        f'[telegram]\ntoken = "{emulator.token}"\n[bot]\nadmins = [{ADMIN_ID}]\nlanguage = "en"\n'
        f'timezone = "UTC"\n[database]\nurl = "{db_url}"\n',
        encoding="utf-8",
    )
    people = tmp_path / "people.csv"
    people.write_text("user_id,stream\n9001,3rd_stream\n9002,\n", encoding="utf-8")

    async def cli(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            "import-users",
            *args,
            cwd=str(ROOT),
            env={"PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode()

    code, out = await cli(str(people))
    assert code == 0
    assert "Rows: 2 · new people: 2 · updated: 0" in out and "Run it again with --apply" in out
    code, out = await cli(str(people), "--apply")
    assert code == 0 and "Imported: 2 new" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,stream\nx,3rd_stream\n", encoding="utf-8")
    code, out = await cli(str(bad), "--apply")
    assert code == 1 and "Line 2: user_id «x» is not a Telegram id" in out
    code, out = await cli(str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in out
    async with running(make_config(db_url), emulator) as herald, herald.sessions() as session:
        ids = (await session.scalars(select(User.id).order_by(User.id))).all()
        actions = (await session.scalars(select(AuditLog.action))).all()
    assert list(ids) == [9001, 9002] and list(actions) == ["import"]


# ----- streams -----------------------------------------------------------------------------


async def test_add_rename_archive_and_restore_streams(herald: Harness) -> None:
    await herald.enroll([6001], "3rd_stream")
    overview = await herald.say(ADMIN_ID, "/streams")
    await herald.tap(ADMIN_ID, overview, button_data(overview, "Add stream"))
    for bad, answer in (
        ("5th stream", "can't be a code"),
        ("3rd_stream", "There is already a stream"),
    ):
        reply = await herald.say(ADMIN_ID, bad)
        assert answer in reply["text"]
    reply = await herald.say(ADMIN_ID, "5th_stream")
    assert reply["text"] == "Title for 5th_stream, as lists and pickers show it (e.g. 5-й поток):"
    reply = await herald.say(ADMIN_ID, "x" * 65)
    assert reply["text"] == (
        "The title must be 1-64 characters, at least one of them visible. Send it again."
    )
    reply = await herald.say(ADMIN_ID, "5-й поток")
    assert reply["text"] == (
        "Stream «5-й поток» (5th_stream) is ready. Invite link: "
        "https://t.me/herald_test_bot?start=5th_stream"
    )
    herald.emulator.add_user(6002)
    await herald.say(6002, "/start 5th_stream")

    overview = await herald.say(ADMIN_ID, "/streams")
    await herald.tap(ADMIN_ID, overview, button_data(overview, "Rename 5-й поток"))
    reply = await herald.say(ADMIN_ID, "Пятый поток")
    assert reply["text"] == "Stream 5th_stream is now called «Пятый поток»."

    overview = await herald.say(ADMIN_ID, "/streams")
    await herald.tap(ADMIN_ID, overview, row_button(overview, "3-й поток", "Archive"))
    assert overview["text"].startswith("Archive «3-й поток»? It has 1 person.")
    await herald.tap(ADMIN_ID, overview, button_data(overview, "Archive"))
    assert (
        herald.emulator.callback_answers[-1]["text"]
        == "«3-й поток» is archived; its history stays."
    )
    assert "3-й поток (archived) (3rd_stream)" in overview["text"]
    await herald.tap(ADMIN_ID, overview, row_button(overview, "4-й поток", "Archive"))
    assert (
        herald.emulator.callback_answers[-1]["text"]
        == "«4-й поток» is archived; its history stays."
    )

    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, "Hi")
    menu = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, menu, button_data(menu, "Skip"))
    labels = [label for row in buttons(herald.last(ADMIN_ID)) for label, _ in row]
    assert "▫️ Пятый поток · 1" in labels and not any("3-й" in x or "4-й" in x for x in labels)
    await herald.say(ADMIN_ID, "/cancel")

    overview = await herald.say(ADMIN_ID, "/streams")
    await herald.tap(ADMIN_ID, overview, row_button(overview, "3-й поток", "Restore"))
    assert herald.emulator.callback_answers[-1]["text"] == "«3-й поток» is back in pickers."
    person = await _user(herald, 6001)
    assert person is not None and person.stream_id == herald.stream_id("3rd_stream")
    assert await _actions(herald) == [
        "stream_add",
        "stream_rename",
        "stream_archive",
        "stream_archive",
        "stream_restore",
    ]


@pytest.mark.parametrize(
    "data",
    [
        PeopleCb(PeopleAction.CARD, 1),
        PeopleCb(PeopleAction.MOVE, 1, 1),
        PeopleCb(PeopleAction.MESSAGE, 1),
        PeopleCb(PeopleAction.EXPORT),
        ImportCb(ImportAction.APPLY, "abcdef"),
        StreamCb(StreamAction.ADD),
        StreamCb(StreamAction.ARCHIVE_OK, 1),
        StreamCb(StreamAction.RENAME, 1),
    ],
)
async def test_people_buttons_refused_to_students(
    herald: Harness, data: PeopleCb | ImportCb | StreamCb
) -> None:
    reply = await herald.say(STUDENT_ID, "/start 3rd_stream")
    await herald.tap(STUDENT_ID, reply, data.pack())
    assert herald.emulator.callback_answers[-1]["text"] == "Administrators only."
    async with herald.sessions() as session:
        stream = await session.scalar(select(Stream).where(Stream.id == 1))
        users = await session.scalar(select(func.count(User.id)))
    assert stream is not None and not stream.archived and users == 1


async def test_students_documents_are_not_imported(herald: Harness) -> None:
    await herald.say(STUDENT_ID, "/start")
    await herald.feed(herald.emulator.user_document(STUDENT_ID, "p.csv", b"user_id,stream\n5,x\n"))
    assert herald.last(STUDENT_ID)["text"].startswith("This bot delivers course announcements")
    async with herald.sessions() as session:
        assert await session.scalar(select(func.count(MessageHistory.id))) == 0
        assert await session.get(User, 5) is None


@pytest.mark.parametrize(
    ("content", "code", "said"),
    [
        ("user_id,stream\n1,поток\n".encode("cp1251"), 1, "The file is not UTF-8 text."),
        (b"", 1, "The file has no rows."),
        (b"id,stream\n1,x\n", 1, "The header has no «user_id» column."),
        (b"user_id,stream\n1,3rd_stream\n1,3rd_stream\n", 1, "already appears on line 2"),
        (b"user_id,stream\n1,9th_stream\n", 1, "Unknown stream «9th_stream» on line 2"),
        (b"user_id;stream\n1;3rd_stream\n", 0, "Imported: 1 new"),
    ],
)
async def test_command_line_import_cases(
    db_url: str,
    emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    code: int,
    said: str,
) -> None:
    config = make_config(db_url)
    async with running(config, emulator):
        pass
    assert await import_users(config, content, apply=True) == code
    captured = capsys.readouterr()
    assert said in captured.out + captured.err
