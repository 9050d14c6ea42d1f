"""Screens whose lists grow with the data stay within Telegram's 4096 characters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import Config, StreamConfig
from tests.emulator import Emulator
from tests.harness import ADMIN_ID, Harness, make_config, running

STREAMS = 60
LIMIT = 4096


def _long_streams() -> list[dict[str, str]]:
    return [
        {
            "code": f"s{i:02d}_" + "x" * 28,
            "title": f"{i:02d} " + ("Поток с длинным названием " * 3)[:61],
        }
        for i in range(STREAMS)
    ]


@pytest.fixture
def many_streams(db_url: str) -> Config:
    config = make_config(db_url)
    return config.model_copy(update={"streams": tuple(StreamConfig(**s) for s in _long_streams())})


@pytest.fixture
async def crowded(many_streams: Config, emulator: Emulator) -> AsyncIterator[Harness]:
    async with running(many_streams, emulator) as herald:
        for i, code in enumerate(s["code"] for s in _long_streams()):
            herald.emulator.add_user(10_000 + i, first_name="Student " + "Долгоимённый" * 5)
            await herald.enroll([10_000 + i], code)
        yield herald


def _fits(message: dict[str, str]) -> str:
    text = message.get("text") or ""
    assert 0 < len(text) <= LIMIT, len(text)
    return text


async def test_streams_overview_fits(crowded: Harness) -> None:
    text = _fits(await crowded.say(ADMIN_ID, "/streams"))
    assert "…and" in text and text.rstrip().splitlines()[-1].startswith("No stream")


async def test_review_of_every_stream_fits_and_sends(crowded: Harness) -> None:
    await crowded.say(ADMIN_ID, "/send")
    await crowded.say(ADMIN_ID, "To every long stream")
    await crowded.press("Skip")
    for i in range(STREAMS):
        await crowded.press(f"{i:02d} Поток")
    await crowded.press("Done")
    text = _fits(crowded.menu())
    assert text.startswith(f"Review (4/4): {STREAMS} people will get it")
    summary = await crowded.press("Send now")
    assert _fits(summary).endswith(f"Send to {STREAMS} people?")
    await crowded.press("Yes, send")
    await crowded.deliveries_done()
    _fits(await crowded.say(ADMIN_ID, "/stats"))
    _fits(await crowded.say(ADMIN_ID, "/scheduled"))
    _fits(await crowded.say(ADMIN_ID, "/history"))
    await crowded.press("#1")
    _fits(crowded.last(ADMIN_ID))


async def test_buttons_near_the_limit_are_not_echoed_in_full(herald: Harness) -> None:
    herald.emulator.add_user(7001)
    await herald.enroll([7001])
    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, "Many buttons")
    line = "A" * 60 + " - https://example.org/" + "p" * 10
    lines = "\n".join(f"{line}{n}" for n in range(40))
    assert len(lines) > 3500
    await herald.say(ADMIN_ID, lines)
    await herald.press("Everyone")
    await herald.press("Done")
    await herald.press("Buttons")
    text = _fits(herald.last(ADMIN_ID))
    assert "current buttons stay" in text


async def test_import_report_of_long_problems_fits(db_url: str, emulator: Emulator) -> None:
    rows = ["user_id,stream,username"]
    rows += ["\n" * 1000]
    rows += [f"{i},{'z' * 60}{i % 11}," for i in range(1, 200)]
    rows += [f"{i},,{'u' * 60}" for i in range(500, 530)]
    content = "\n".join(rows).encode()
    async with running(make_config(db_url, bot={"language": "ru"}), emulator) as herald:
        await herald.feed(herald.emulator.user_document(ADMIN_ID, "people.csv", content))
        text = _fits(herald.last(ADMIN_ID))
    assert "…и ещё" in text
