"""Admins: the menu, /streams, scoped command lists, refusals for everyone else, error notices."""

from __future__ import annotations

from sqlalchemy import select
from telegram import Update
from telegram.ext import CommandHandler

from bot.callbacks import MenuAction, MenuCb
from bot.commands import ADMIN_COMMANDS, START
from bot.config import Config
from bot.context import HeraldContext
from db.models import AuditLog, User
from tests.emulator import Emulator
from tests.harness import (
    ADMIN_ID,
    OTHER_ADMIN_ID,
    STUDENT_ID,
    Harness,
    button_data,
    buttons,
    make_config,
    running,
)


async def _audit(herald: Harness) -> list[AuditLog]:
    async with herald.sessions() as session:
        return list((await session.scalars(select(AuditLog).order_by(AuditLog.id))).all())


async def test_admin_start_shows_menu_with_live_buttons(herald: Harness) -> None:
    reply = await herald.say(ADMIN_ID, "/start")
    assert reply["text"] == "Herald: what would you like to do?"
    assert reply["entities"][0]["type"] == "bold"
    assert buttons(reply) == [
        [("✉️ New message", MenuCb(MenuAction.SEND).pack())],
        [
            ("⏰ Scheduled", MenuCb(MenuAction.SCHEDULED).pack()),
            ("🗂 History", MenuCb(MenuAction.HISTORY).pack()),
        ],
        [
            ("📊 Statistics", MenuCb(MenuAction.STATS).pack()),
            ("🧾 Audit log", MenuCb(MenuAction.AUDIT).pack()),
        ],
        [
            ("👥 People", MenuCb(MenuAction.USERS).pack()),
            ("📚 Streams", MenuCb(MenuAction.STREAMS).pack()),
        ],
    ]


async def test_streams_lists_counts_and_invite_links(herald: Harness) -> None:
    emulator = herald.emulator
    for user_id, code in ((3001, "3rd_stream"), (3002, "3rd_stream"), (3003, "4th_stream")):
        emulator.add_user(user_id, first_name=f"S{user_id}")
        await herald.say(user_id, f"/start {code}")
    await herald.say(STUDENT_ID, "/start")
    await herald.feed(emulator.member_status(3002, "kicked"))
    reply = await herald.say(ADMIN_ID, "/streams")
    assert reply["text"] == (
        "Streams\n\n"
        "3-й поток (3rd_stream): 2 members, 1 blocked the bot\n"
        "Invite: https://t.me/herald_test_bot?start=3rd_stream\n\n"
        "4-й поток (4th_stream): 1 member\n"
        "Invite: https://t.me/herald_test_bot?start=4th_stream\n\n"
        "No stream: 1 member"
    )


async def test_streams_in_russian_uses_plural_forms(db_url: str, emulator: Emulator) -> None:
    config = make_config(db_url, bot={"language": "ru"})
    async with running(config, emulator) as herald:
        for user_id in range(3001, 3006):
            emulator.add_user(user_id)
            await herald.say(user_id, "/start 3rd_stream")
        emulator.add_user(3010)
        await herald.say(3010, "/start 4th_stream")
        reply = await herald.say(ADMIN_ID, "/streams")
    assert "3-й поток (3rd_stream): 5 участников" in reply["text"]
    assert "4-й поток (4th_stream): 1 участник\n" in reply["text"]
    assert "Без потока: 1 участник" not in reply["text"]
    assert "Без потока: 0 участников" in reply["text"]
    assert herald.errors == []


async def test_menu_button_opens_streams_and_goes_back(herald: Harness) -> None:
    menu = await herald.say(ADMIN_ID, "/start")
    await herald.tap(ADMIN_ID, menu, button_data(menu, "Streams"))
    edited = herald.emulator.find_message(ADMIN_ID, menu["message_id"])
    assert edited is not None and edited["text"].startswith("Streams\n\n3-й поток")
    assert herald.emulator.callback_answers[-1].get("text") is None
    await herald.tap(ADMIN_ID, edited, button_data(edited, "Menu"))
    assert edited["text"] == "Herald: what would you like to do?"


async def test_command_lists_scoped_per_admin(herald: Harness) -> None:
    commands = herald.emulator.commands
    assert [c["command"] for c in commands["default"]] == [START]
    admin_list = [c["command"] for c in commands[f"chat:{ADMIN_ID}"]]
    assert admin_list == [name for name, _ in ADMIN_COMMANDS]
    assert f"chat:{STUDENT_ID}" not in commands


async def test_admin_without_chat_gets_commands_on_first_start(herald: Harness) -> None:
    assert f"chat:{OTHER_ADMIN_ID}" not in herald.emulator.commands
    herald.emulator.add_user(OTHER_ADMIN_ID, first_name="Second admin")
    await herald.say(OTHER_ADMIN_ID, "/start")
    assert f"chat:{OTHER_ADMIN_ID}" in herald.emulator.commands


async def test_every_admin_command_refused_to_students(herald: Harness) -> None:
    refused = [name for name, _ in ADMIN_COMMANDS if name != START]
    assert refused
    for name in refused:
        reply = await herald.say(STUDENT_ID, f"/{name}")
        assert reply["text"] == "This command is for course administrators only."
    entries = await _audit(herald)
    assert [(e.actor_id, e.action, e.target) for e in entries] == [
        (STUDENT_ID, "denied", f"/{name}") for name in refused
    ]


async def test_forged_admin_callback_refused_and_audited(herald: Harness) -> None:
    reply = await herald.say(STUDENT_ID, "/start")
    forged = MenuCb(MenuAction.STREAMS).pack()
    await herald.tap(STUDENT_ID, reply, forged)
    assert herald.emulator.callback_answers[-1]["text"] == "Administrators only."
    assert herald.last(STUDENT_ID)["text"] == reply["text"]
    entries = await _audit(herald)
    assert [(e.actor_id, e.action, e.target) for e in entries] == [
        (STUDENT_ID, "denied", f"button {forged}")
    ]


async def test_stale_button_answers_menu_expired(herald: Harness) -> None:
    menu = await herald.say(ADMIN_ID, "/start")
    await herald.tap(ADMIN_ID, menu, "zz:old:data")
    assert herald.emulator.callback_answers[-1]["text"] == (
        "This menu has expired. Open a new one with /start."
    )


async def test_handler_error_is_logged_and_admins_notified_once(
    config: Config, emulator: Emulator
) -> None:
    async def boom(update: Update, context: HeraldContext) -> None:
        raise RuntimeError("kaboom")

    async with running(config, emulator, expect_errors=True) as herald:
        herald.app.add_handler(CommandHandler("boom", boom), group=1)
        herald.emulator.add_user(OTHER_ADMIN_ID)
        await herald.say(ADMIN_ID, "/boom")
        await herald.say(ADMIN_ID, "/boom")
        notice = "⚠️ Something went wrong while handling an update; details are in the bot's log."
        assert herald.texts_to(ADMIN_ID).count(notice) == 1
        assert herald.texts_to(OTHER_ADMIN_ID).count(notice) == 1
        assert [str(e) for e in herald.errors] == ["kaboom", "kaboom"]
        reply = await herald.say(STUDENT_ID, "/start")
        assert reply["text"].startswith("Hello!")


async def test_admins_are_not_registered_as_audience(herald: Harness) -> None:
    await herald.say(ADMIN_ID, "/start")
    await herald.say(ADMIN_ID, "/streams")
    async with herald.sessions() as session:
        assert await session.get(User, ADMIN_ID) is None


async def test_an_update_seen_again_after_a_failover_is_not_answered_twice(
    herald: Harness,
) -> None:
    update = herald.emulator.user_message(STUDENT_ID, "/start")
    await herald.feed(update)
    herald.emulator.updates.append(update)
    await herald.feed(update)
    assert herald.texts_to(STUDENT_ID).count(herald.last(STUDENT_ID)["text"]) == 1
