"""The real entry point polls a Bot API server given by base_url and answers a student."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from db.engine import create_engine
from db.models import User
from tests.emulator import Emulator
from tests.emulator.server import serve
from tests.harness import ADMIN_ID, STUDENT_ID, bot_process, write_config


async def _wait_for(predicate: Callable[[], object], within: float = 30.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_run_command_serves_students_and_admins(tmp_path: Path, db_url: str) -> None:
    emulator = Emulator()
    emulator.add_user(STUDENT_ID, first_name="Student")
    emulator.add_user(ADMIN_ID, first_name="Admin")
    async with serve(emulator) as base_url:
        config = write_config(tmp_path / "config.toml", base_url, db_url)
        process = await bot_process(config, emulator.token)
        try:
            emulator.user_message(STUDENT_ID, "/start 3rd_stream")
            emulator.user_message(ADMIN_ID, "/streams")
            answered = await _wait_for(
                lambda: emulator.bot_messages(STUDENT_ID) and emulator.bot_messages(ADMIN_ID)
            )
        finally:
            process.send_signal(signal.SIGINT)
            output, _ = await asyncio.wait_for(process.communicate(), 30)
        log = output.decode()
        assert answered, log
        assert emulator.last_bot_message(STUDENT_ID)["text"].startswith("Hello!")
        streams = emulator.last_bot_message(ADMIN_ID)["text"]
        assert "3-й поток (3rd_stream): 1 member" in streams
        assert process.returncode == 0, log
        assert emulator.token not in log
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            started = (await conn.execute(select(User.id, User.stream_id))).all()
    finally:
        await engine.dispose()
    assert [uid for uid, stream in started if stream is not None] == [STUDENT_ID]
