"""Regressions found by attacking the People screen, per-admin language and lost drafts: an
open flow owns typed text, archived streams stay named, Undo is undone only once, and what
an admin reads after a restart is in their language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.delivery.content import Content
from db.models import AuditLog, MessageKind, User
from db.repo.audience import Selection
from tests.emulator import Emulator
from tests.emulator.core import FaultKind
from tests.harness import (
    ADMIN_ID,
    OTHER_ADMIN_ID,
    Harness,
    button_data,
    make_config,
    row_button,
    running,
)


async def _stream_of(herald: Harness, user_id: int) -> int | None:
    async with herald.sessions() as session:
        person = await session.get(User, user_id)
    assert person is not None
    return person.stream_id


async def _archive_third(herald: Harness) -> None:
    overview = await herald.say(ADMIN_ID, "/streams")
    await herald.tap(ADMIN_ID, overview, row_button(overview, "3-й поток", "Archive"))
    await herald.tap(ADMIN_ID, overview, button_data(overview, "Archive"))


async def test_a_draft_owns_typed_text_even_after_a_people_tap(herald: Harness) -> None:
    await herald.enroll([6001], "3rd_stream", name="Olga")
    found = await herald.say(ADMIN_ID, "/users olga")
    await herald.tap(ADMIN_ID, found, button_data(found, "Olga"))
    await herald.tap(ADMIN_ID, found, button_data(found, "Message this person"))
    assert herald.last(ADMIN_ID)["text"].startswith("New message (1/4)")
    await herald.tap(ADMIN_ID, found, button_data(found, "Results"))
    reply = await herald.say(ADMIN_ID, "Hello Olga, your exam is tomorrow")
    assert reply["text"].startswith("Buttons (2/4)"), reply["text"]


async def test_search_goes_on_after_opening_a_card(herald: Harness) -> None:
    await herald.enroll([6001], "3rd_stream", name="Olga")
    await herald.enroll([6002], "3rd_stream", name="Pavel")
    await herald.say(ADMIN_ID, "/users")
    found = await herald.say(ADMIN_ID, "olga")
    await herald.tap(ADMIN_ID, found, button_data(found, "Olga"))
    again = await herald.say(ADMIN_ID, "pavel")
    assert "«pavel»: 1 person found" in again["text"]


async def test_a_person_in_an_archived_stream_keeps_it_and_undo_brings_them_back(
    herald: Harness,
) -> None:
    await herald.enroll([6001], "3rd_stream", name="Olga")
    await _archive_third(herald)
    found = await herald.say(ADMIN_ID, "/users olga")
    await herald.tap(ADMIN_ID, found, button_data(found, "Olga"))
    assert "Stream: 3-й поток" in found["text"]
    await herald.tap(ADMIN_ID, found, button_data(found, "Remove from stream"))
    assert found["text"].splitlines()[0] == "✅ Taken out of 3-й поток."
    await herald.tap(ADMIN_ID, found, button_data(found, "Undo"))
    assert await _stream_of(herald, 6001) == herald.stream_id("3rd_stream")
    log = await herald.say(ADMIN_ID, "/audit")
    assert "took out of a stream: Olga6001 · 3-й поток" in log["text"]


async def test_undo_is_refused_once_someone_moved_them_since(
    herald: Harness, emulator: Emulator
) -> None:
    emulator.add_user(OTHER_ADMIN_ID, first_name="Oleg")
    await herald.enroll([6001], "3rd_stream", name="Olga")
    found = await herald.say(ADMIN_ID, "/users olga")
    await herald.tap(ADMIN_ID, found, button_data(found, "Olga"))
    await herald.tap(ADMIN_ID, found, button_data(found, "4-й поток"))
    undo = button_data(found, "Undo")
    theirs = await herald.say(OTHER_ADMIN_ID, "/users olga")
    await herald.tap(OTHER_ADMIN_ID, theirs, button_data(theirs, "Olga"))
    await herald.tap(OTHER_ADMIN_ID, theirs, button_data(theirs, "Remove from stream"))
    await herald.tap(ADMIN_ID, found, undo)
    assert emulator.callback_answers[-1]["text"].startswith("This menu has expired")
    assert await _stream_of(herald, 6001) is None
    async with herald.sessions() as session:
        actions = (await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
    assert actions == ["move", "remove"]


async def test_a_scheduled_message_is_not_called_a_lost_draft(
    db_url: str, emulator: Emulator
) -> None:
    """The message is stored; only Telegram refused the confirmation. After a restart the
    admin must not be told their draft was lost (they would write it again)."""
    config = make_config(db_url)
    async with running(config, emulator, expect_errors=True) as herald:
        await herald.enroll([3001], "3rd_stream")
        await herald.say(ADMIN_ID, "/send")
        await herald.say(ADMIN_ID, "Exam moved to Friday")
        await herald.press("Skip")
        await herald.press("3-й поток")
        await herald.press("Done")
        await herald.press("Schedule")
        await herald.say(ADMIN_ID, "+2h")
        emulator.fail(FaultKind.BAD_REQUEST, chat_id=ADMIN_ID, method="sendMessage")
        await herald.press("✅ Schedule")
        assert len(herald.errors) == 1  # the refused confirmation
    async with running(config, emulator, expect_errors=True) as herald:
        queue = await herald.say(ADMIN_ID, "/scheduled")
        assert "Exam moved to Friday" in queue["text"]
        assert not any("was lost" in m["text"] for m in emulator.bot_messages(ADMIN_ID))
        assert herald.errors == []


async def test_after_a_restart_an_admin_hears_their_app_language_before_writing(
    db_url: str, emulator: Emulator
) -> None:
    """The bot speaks Russian; the admin's app is English. After a restart, the missed-message
    notice (sent before they write) and their command list are English."""
    emulator.add_user(ADMIN_ID, first_name="Anna", language_code="en")
    config = make_config(db_url, bot={"language": "ru"})
    async with running(config, emulator) as herald:
        assert (await herald.say(ADMIN_ID, "/start"))["text"].startswith("Herald: what")
        await herald.app.bot_data.services.broadcaster.schedule(
            ADMIN_ID,
            Content(MessageKind.TEXT, "Hi"),
            Selection(everyone=True),
            datetime.now(UTC) - timedelta(hours=7),
        )
    async with running(config, emulator) as herald:
        assert herald.last(ADMIN_ID)["text"].startswith("⏰ Message #")
        commands = emulator.commands[f"chat:{ADMIN_ID}"]
        assert commands[0]["description"] == "Main menu"


async def test_an_import_reports_in_the_admins_language(herald: Harness) -> None:
    screen = await herald.say(ADMIN_ID, "/language")
    await herald.tap(ADMIN_ID, screen, button_data(screen, "Русский"))
    await herald.feed(
        herald.emulator.user_document(ADMIN_ID, "people.csv", b"user_id,stream\n5001,3rd_stream\n")
    )
    check = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, check, button_data(check, "Применить"))
    await herald.background_done()
    assert herald.current(check)["text"].startswith("Импортировано")
