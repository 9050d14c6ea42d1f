"""The bot token never reaches a log record, at any level, in messages or tracebacks."""

from __future__ import annotations

import logging

import pytest
from telegram import Update
from telegram.ext import CommandHandler

from bot.config import Config
from bot.context import HeraldContext
from tests.emulator import Emulator, FaultKind
from tests.harness import ADMIN_ID, STUDENT_ID, running


async def test_token_absent_from_logs(
    config: Config, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    token = config.token

    async def leak(update: Update, context: HeraldContext) -> None:
        raise RuntimeError(f"request to https://api.telegram.org/bot{token}/sendMessage failed")

    async with running(config, emulator, expect_errors=True) as herald:
        herald.app.add_handler(CommandHandler("leak", leak), group=1)
        await herald.say(STUDENT_ID, "/start")
        emulator.fail(FaultKind.DROP, chat_id=ADMIN_ID, method="sendMessage")
        await herald.say(ADMIN_ID, "/leak")
        assert len(herald.errors) == 2
    records = caplog.records
    assert any("HTTP Request" in r.getMessage() for r in records), "httpx logging was not captured"
    assert any(r.exc_info for r in records), "no traceback was logged"
    assert token not in caplog.text
    for record in records:
        assert token not in record.getMessage()
        assert token not in (record.exc_text or "")
    assert "<token>" in caplog.text
