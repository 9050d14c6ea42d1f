"""Start-up as a real process: Telegram blips are waited out, a rejected token stops it cleanly,
and the token is never printed on any path."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.emulator import Emulator, FaultKind
from tests.emulator.server import serve
from tests.harness import ADMIN_ID, ROOT, STUDENT_ID, bot_process, write_config


async def _until(predicate: Callable[[], object], within: float = 40.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_rejected_token_stops_with_one_line(tmp_path: Path, db_url: str) -> None:
    emulator = Emulator()
    wrong = "999:WRONG-token_value"
    async with serve(emulator) as base_url:
        config = write_config(tmp_path / "config.toml", base_url, db_url)
        process = await bot_process(config, wrong)
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    text = output.decode()
    assert process.returncode == 2, text
    assert text.strip().splitlines()[-1] == (
        "herald: Telegram rejected the token (Unauthorized); check telegram.token in the "
        "config or HERALD_BOT_TOKEN"
    )
    assert wrong not in text and "WRONG" not in text
    assert "Traceback" not in text


async def test_telegram_blips_at_start_are_waited_out(tmp_path: Path, db_url: str) -> None:
    emulator = Emulator()
    emulator.add_user(STUDENT_ID, first_name="Student")
    emulator.add_user(ADMIN_ID, first_name="Admin")
    emulator.fail(FaultKind.SERVER_ERROR, method="getMe", times=1)
    emulator.fail(FaultKind.DROP, method="getMe", times=1)
    emulator.fail(FaultKind.SLOW, method="getMe", times=1, delay=6.0)  # past PTB's 5 s
    emulator.fail(
        FaultKind.BAD_REQUEST, method="setMyCommands", times=None, description="Bad Request: no"
    )
    async with serve(emulator) as base_url:
        config = write_config(tmp_path / "config.toml", base_url, db_url)
        process = await bot_process(config, emulator.token)
        try:
            emulator.user_message(STUDENT_ID, "/start")
            emulator.user_message(ADMIN_ID, "/start")
            answered = await _until(
                lambda: emulator.bot_messages(STUDENT_ID) and emulator.bot_messages(ADMIN_ID)
            )
            alive = process.returncode is None
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(process.communicate(), 30)
    log = output.decode()
    assert answered and alive, log
    assert sum(1 for a in emulator.arrivals if a.method == "getMe") >= 4
    assert log.count("connecting to Telegram failed") >= 3, log
    waits = [
        line.rsplit("trying again in ", 1)[1] for line in log.splitlines() if "again in" in line
    ]
    assert waits[:3] == ["0.5 s", "1.0 s", "2.0 s"], "each failure waits twice as long"
    assert "could not publish the command list" in log
    assert "Traceback" not in log, log
    assert process.returncode == 0, log


LEAKS = """
import asyncio, gc, logging, sys, threading, warnings
from bot.logs import configure_logging

token = sys.argv[1]
configure_logging(token)
print("stdout", token)
logging.getLogger("x").error("logged %s", token)
try:
    raise ValueError(token)
except ValueError:
    logging.getLogger("x").exception("with traceback")
warnings.warn(f"warned {token}")


def boom():
    raise RuntimeError(token)


thread = threading.Thread(target=boom)
thread.start()
thread.join()


async def fail():
    raise KeyError(f"never retrieved {token}")


async def main():
    asyncio.ensure_future(fail())
    await asyncio.sleep(0.01)
    gc.collect()


asyncio.run(main())
gc.collect()
raise RuntimeError(f"uncaught {token}")
"""


def test_no_path_prints_the_token() -> None:
    token = "424242:SECRET-value_xyz"
    result = subprocess.run(
        [sys.executable, "-c", LEAKS, token],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    printed = result.stdout + result.stderr
    assert result.returncode == 1, printed
    for seen in ("stdout", "logged", "with traceback", "warned", "never retrieved", "uncaught"):
        assert seen in printed, (seen, printed)
    assert "RuntimeError: <token>" in printed
    assert token not in printed and "SECRET" not in printed, printed
    assert "424242%3A" not in printed
