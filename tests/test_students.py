"""Students: registration, invite links, refreshes on contact, blocking and unblocking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from db.models import Stream, User
from tests.emulator import Emulator
from tests.harness import ADMIN_ID, STUDENT_ID, Harness, make_config, running


async def _user(herald: Harness, user_id: int = STUDENT_ID) -> User:
    async with herald.sessions() as session:
        user = await session.get(User, user_id)
    assert user is not None, f"user {user_id} is not registered"
    return user


async def _stream_code(herald: Harness, user: User) -> str | None:
    if user.stream_id is None:
        return None
    async with herald.sessions() as session:
        return await session.scalar(select(Stream.code).where(Stream.id == user.stream_id))


async def test_start_registers_and_welcomes(herald: Harness) -> None:
    reply = await herald.say(STUDENT_ID, "/start")
    assert reply["text"] == "Hello! You are subscribed to course announcements."
    assert "reply_markup" not in reply
    user = await _user(herald)
    assert (user.username, user.first_name, user.language_code) == ("user2000", "P2000", "en")
    assert user.stream_id is None
    assert not user.is_blocked
    assert isinstance(user.joined_at, datetime) and user.joined_at.tzinfo is not None


async def test_configured_welcome_text(db_url: str, emulator: Emulator) -> None:
    config = make_config(db_url, bot={"welcome_text": "Welcome to the course!"})
    async with running(config, emulator) as herald:
        reply = await herald.say(STUDENT_ID, "/start")
    assert reply["text"] == "Welcome to the course!"
    assert herald.errors == []


async def test_invite_link_joins_and_moves_stream(herald: Harness) -> None:
    await herald.say(STUDENT_ID, "/start 3rd_stream")
    assert await _stream_code(herald, await _user(herald)) == "3rd_stream"
    reply = await herald.say(STUDENT_ID, "/start 4th_stream")
    assert reply["text"] == "Hello! You are subscribed to course announcements."
    assert await _stream_code(herald, await _user(herald)) == "4th_stream"


async def test_unknown_code_registers_without_stream(herald: Harness) -> None:
    reply = await herald.say(STUDENT_ID, "/start 9th_stream")
    assert reply["text"] == "Hello! You are subscribed to course announcements."
    assert (await _user(herald)).stream_id is None


async def test_unknown_code_keeps_existing_stream(herald: Harness) -> None:
    await herald.say(STUDENT_ID, "/start 3rd_stream")
    await herald.say(STUDENT_ID, "/start nonsense")
    assert await _stream_code(herald, await _user(herald)) == "3rd_stream"


async def test_contact_refreshes_profile_and_last_seen(db_url: str, emulator: Emulator) -> None:
    started = datetime.now(UTC).replace(microsecond=0)
    now = [started]
    async with running(make_config(db_url), emulator, clock=lambda: now[0]) as herald:
        await herald.say(STUDENT_ID, "/start")
        first = await _user(herald)
        assert (first.joined_at, first.last_seen_at) == (started, started)
        now[0] = started + timedelta(hours=1)
        herald.emulator.add_user(STUDENT_ID, first_name="Renamed", username="new_name")
        reply = await herald.say(STUDENT_ID, "hello?")
        user = await _user(herald)
    assert reply["text"] == (
        "This bot delivers course announcements; messages sent here are not read."
    )
    assert (user.first_name, user.username) == ("Renamed", "new_name")
    assert user.last_seen_at == started + timedelta(hours=1)
    assert user.joined_at == started


async def test_block_and_unblock(herald: Harness) -> None:
    await herald.say(STUDENT_ID, "/start")
    await herald.feed(herald.emulator.member_status(STUDENT_ID, "kicked"))
    user = await _user(herald)
    assert user.is_blocked and user.blocked_at is not None
    await herald.feed(herald.emulator.member_status(STUDENT_ID, "member"))
    user = await _user(herald)
    assert not user.is_blocked and user.blocked_at is None


async def test_new_contact_clears_block(herald: Harness) -> None:
    await herald.say(STUDENT_ID, "/start")
    await herald.feed(herald.emulator.member_status(STUDENT_ID, "kicked"))
    assert (await _user(herald)).is_blocked
    herald.emulator.blocked.discard(STUDENT_ID)
    await herald.say(STUDENT_ID, "/start")
    assert not (await _user(herald)).is_blocked


async def test_block_from_unknown_person_registers_them_blocked(herald: Harness) -> None:
    herald.emulator.add_user(3000, first_name="Ghost")
    await herald.feed(herald.emulator.member_status(3000, "kicked"))
    user = await _user(herald, 3000)
    assert user.is_blocked and user.first_name == "Ghost"


async def test_admin_is_not_shown_the_student_welcome(herald: Harness) -> None:
    reply = await herald.say(ADMIN_ID, "/start 3rd_stream")
    assert reply["text"] == "Herald: what would you like to do?"
