"""Each flow is its own conversation: adding a stream, renaming one and moving a queued message
in time never touch a message draft, and each says what its own cancel, back and idle mean."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.delivery.content import Content
from db.models import MessageHistory, MessageKind, Stream
from db.repo.audience import Selection
from tests.emulator import Emulator
from tests.harness import ADMIN_ID, STICKER, Harness, button_data, make_config, running, until

STUDENTS = [3001, 3002]


async def _draft_at_buttons(herald: Harness) -> None:
    await herald.say(ADMIN_ID, "/send")
    reply = await herald.say(ADMIN_ID, "Draft text")
    assert reply["text"].startswith("Buttons (2/4)")


async def _titles(herald: Harness) -> set[str]:
    async with herald.sessions() as session:
        return set((await session.scalars(select(Stream.title))).all())


async def test_commands_over_a_draft_ask_and_continue_where_it_was(herald: Harness) -> None:
    await _draft_at_buttons(herald)
    for command in ("/streams", "/start", "/users anna", "/history"):
        asked = await herald.say(ADMIN_ID, command)
        assert asked["text"].startswith("You have a draft that is not sent yet (step 2/4"), command
        await herald.tap(ADMIN_ID, asked, button_data(asked, "Continue"))
        assert herald.last(ADMIN_ID)["text"].startswith("Buttons (2/4)"), command
    reply = await herald.say(ADMIN_ID, "/cancel")
    assert reply["text"] == "Draft discarded; nothing was sent."


async def test_add_stream_during_a_draft_then_cancel(herald: Harness) -> None:
    """ "Add stream" from an older overview while composing: the draft survives both Cancel and
    /cancel of the stream prompt, and typed text goes to the prompt the admin last saw."""
    overview = await herald.say(ADMIN_ID, "/streams")
    await _draft_at_buttons(herald)
    await herald.tap(ADMIN_ID, overview, button_data(overview, "Add stream"))
    prompt = herald.last(ADMIN_ID)
    assert prompt["text"].startswith("Code for the new stream")
    await herald.tap(ADMIN_ID, prompt, button_data(prompt, "Cancel"))
    assert herald.last(ADMIN_ID)["text"] == "No stream was added."
    reply = await herald.say(ADMIN_ID, "Ok - https://example.org")
    assert reply["text"].startswith("Recipients (3/4)")

    await herald.tap(ADMIN_ID, overview, button_data(overview, "Add stream"))
    reply = await herald.say(ADMIN_ID, "6th_stream")
    assert reply["text"].startswith("Title for 6th_stream")
    reply = await herald.say(ADMIN_ID, "/cancel")
    assert reply["text"] == "No stream was added."
    assert await _titles(herald) == {"3-й поток", "4-й поток"}
    reply = await herald.say(ADMIN_ID, "anna")
    assert reply["text"].startswith("Recipients (3/4)")


async def test_rename_prompt_answers_other_input_and_commands(herald: Harness) -> None:
    overview = await herald.say(ADMIN_ID, "/streams")
    await herald.tap(ADMIN_ID, overview, button_data(overview, "Rename 3-й поток"))
    prompt = herald.last(ADMIN_ID)
    assert "Cancel" in str(prompt["reply_markup"])
    reply = await herald.say(ADMIN_ID, sticker=STICKER)
    assert reply["text"] == "Send the answer as text, or tap Cancel."
    reply = await herald.say(ADMIN_ID, "/history")
    assert reply["text"] == (
        "You are renaming a stream. Send the new title, or tap Cancel first to do something else."
    )
    reply = await herald.say(ADMIN_ID, "/cancel")
    assert reply["text"] == "The stream keeps its title."
    assert await _titles(herald) == {"3-й поток", "4-й поток"}
    reply = await herald.say(ADMIN_ID, "/history")
    assert not reply["text"].startswith("You are renaming")


async def test_stream_prompt_times_out_with_its_own_words(db_url: str, emulator: Emulator) -> None:
    async with running(make_config(db_url), emulator, conversation_timeout=0.5) as herald:
        overview = await herald.say(ADMIN_ID, "/streams")
        await herald.tap(ADMIN_ID, overview, button_data(overview, "Add stream"))
        await until(lambda: herald.last(ADMIN_ID)["text"].startswith("The stream prompt"))
        assert herald.last(ADMIN_ID)["text"] == (
            "The stream prompt sat idle and was closed. No stream was added."
        )
        reply = await herald.say(ADMIN_ID, "7th_stream")
        assert reply["text"] == "Herald: what would you like to do?"


async def _queued(herald: Harness) -> int:
    await herald.enroll(STUDENTS, "3rd_stream")
    services = herald.app.bot_data.services
    content = Content(kind=MessageKind.TEXT, text="Queued hello")
    when = datetime.now(UTC) + timedelta(days=2)
    message = await services.dispatcher.schedule(ADMIN_ID, content, Selection(everyone=True), when)
    return message.id


async def test_back_while_rescheduling_keeps_the_time_and_the_draft(herald: Harness) -> None:
    message_id = await _queued(herald)
    async with herald.sessions() as session:
        before = (await session.get(MessageHistory, message_id)).scheduled_at  # type: ignore[union-attr]
    listing = await herald.say(ADMIN_ID, "/scheduled")
    await _draft_at_buttons(herald)
    await herald.tap(ADMIN_ID, listing, button_data(listing, "Time"))
    asked = herald.menu(ADMIN_ID)
    await herald.tap(ADMIN_ID, asked, button_data(asked, "Back"))
    assert herald.last(ADMIN_ID)["text"] == f"Message #{message_id} keeps its time."
    reply = await herald.say(ADMIN_ID, "Ok - https://example.org")
    assert reply["text"].startswith("Recipients (3/4)")

    await herald.tap(ADMIN_ID, listing, button_data(listing, "Time"))
    reply = await herald.say(ADMIN_ID, "/cancel")
    assert reply["text"] == f"Message #{message_id} keeps its time."
    async with herald.sessions() as session:
        after = (await session.get(MessageHistory, message_id)).scheduled_at  # type: ignore[union-attr]
    assert after == before
