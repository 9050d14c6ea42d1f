"""The emulator answers like Telegram, and each injected fault reaches PTB as the real one would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from tests.emulator import Emulator, FaultKind, emulator_request
from tests.emulator.server import serve

CHAT = 555


@pytest.fixture
async def bot(emulator: Emulator) -> AsyncIterator[Bot]:
    emulator.add_user(CHAT)
    async with Bot(emulator.token, request=emulator_request(emulator)) as bot:
        yield bot


async def test_send_edit_and_html(bot: Bot, emulator: Emulator) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Site", url="https://example.org")]])
    sent = await bot.send_message(
        CHAT, "<b>Hi</b> 👋 <i>there</i>", parse_mode=ParseMode.HTML, reply_markup=markup
    )
    stored = emulator.last_bot_message(CHAT)
    assert stored["text"] == "Hi 👋 there"
    assert [(e["type"], e["offset"], e["length"]) for e in stored["entities"]] == [
        ("bold", 0, 2),
        ("italic", 6, 5),
    ]
    assert sent.reply_markup == markup
    await bot.edit_message_text("Bye", chat_id=CHAT, message_id=sent.message_id)
    assert stored["text"] == "Bye" and "reply_markup" not in stored and "edit_date" in stored
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("Bye", chat_id=CHAT, message_id=sent.message_id)


async def test_unknown_chat_and_blocked(bot: Bot, emulator: Emulator) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999, "x")
    emulator.blocked.add(CHAT)
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        await bot.send_message(CHAT, "x")


@pytest.mark.parametrize(
    ("kind", "error", "delivered"),
    [
        (FaultKind.BLOCKED, Forbidden, False),
        (FaultKind.DEACTIVATED, Forbidden, False),
        (FaultKind.CHAT_NOT_FOUND, BadRequest, False),
        (FaultKind.RETRY_AFTER, RetryAfter, False),
        (FaultKind.SERVER_ERROR, NetworkError, False),
        (FaultKind.TIMEOUT, TimedOut, True),
        (FaultKind.DROP, NetworkError, False),
        (FaultKind.CUT, NetworkError, True),
    ],
)
async def test_faults_map_to_ptb_errors(
    bot: Bot, emulator: Emulator, kind: FaultKind, error: type[Exception], delivered: bool
) -> None:
    emulator.fail(kind, chat_id=CHAT, method="sendMessage", retry_after=3)
    with pytest.raises(error) as info:
        await bot.send_message(CHAT, "first")
    if isinstance(info.value, RetryAfter):
        retry = info.value.retry_after
        assert (retry.total_seconds() if isinstance(retry, timedelta) else retry) == 3
    assert len(emulator.bot_messages(CHAT)) == (1 if delivered else 0)
    await bot.send_message(CHAT, "second")
    assert emulator.last_bot_message(CHAT)["text"] == "second"


async def test_fault_for_other_chat_does_not_apply(bot: Bot, emulator: Emulator) -> None:
    emulator.fail(FaultKind.BLOCKED, chat_id=CHAT + 1, times=None)
    await bot.send_message(CHAT, "fine")
    assert emulator.arrivals[-1].chat_id == CHAT


async def test_served_over_loopback_http(emulator: Emulator) -> None:
    emulator.add_user(CHAT)
    async with serve(emulator) as base_url, Bot(emulator.token, base_url=base_url) as bot:
        assert bot.username == emulator.bot_username
        await bot.send_message(CHAT, "over http")
        emulator.fail(FaultKind.RETRY_AFTER, chat_id=CHAT, retry_after=2)
        with pytest.raises(RetryAfter):
            await bot.send_message(CHAT, "limited")
        emulator.fail(FaultKind.DROP, chat_id=CHAT)
        with pytest.raises(NetworkError):
            await bot.send_message(CHAT, "dropped")
    assert [m["text"] for m in emulator.bot_messages(CHAT)] == ["over http"]
