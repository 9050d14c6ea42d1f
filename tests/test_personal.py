"""Personalised broadcasts end to end: each student gets their own name, stream and link, the
formatting stays on the same words, the preview shows the first recipient's version, and a
mistyped placeholder is refused where it was typed."""

from __future__ import annotations

from bot.delivery.content import Content
from db.models import MessageKind
from db.repo.audience import Selection
from tests.harness import ADMIN_ID, Harness, button_data

SOURCE = "🎉 Привет, {first_name}! Ваш поток: {stream}. {{ok}}"


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, offset: int, length: int) -> str:
    raw = text.encode("utf-16-le")
    return raw[2 * offset : 2 * (offset + length)].decode("utf-16-le")


async def test_each_student_gets_their_own_values(herald: Harness) -> None:
    herald.emulator.add_user(3001, first_name="Анна", last_name="Иванова", username="anna")
    herald.emulator.add_user(3002, first_name="Bob")
    await herald.enroll([3001], "3rd_stream")
    await herald.enroll([3002])
    bold = {"type": "bold", "offset": _units("🎉 Привет, "), "length": _units("{first_name}")}
    await herald.say(ADMIN_ID, "/send")
    refused = await herald.say(ADMIN_ID, "Hi {name}")
    assert refused["text"].startswith("«{name}» is not a placeholder I know. Use {first_name},")
    await herald.say(ADMIN_ID, SOURCE, entities=[bold])
    refused = await herald.say(ADMIN_ID, "Profile - https://example.org/?u={user}")
    assert refused["text"].startswith("«{user}» is not a placeholder I know.")
    await herald.say(ADMIN_ID, "Profile - https://example.org/?u={username}")
    await herald.press("3-й поток")
    await herald.press("No stream")
    summary = await herald.press("Done")
    preview = herald.emulator.bot_messages(ADMIN_ID)[-2]
    assert preview["text"] == "🎉 Привет, Анна! Ваш поток: 3-й поток. {ok}"
    summary = herald.last(ADMIN_ID)
    assert "Personalised: the preview shows what Анна Иванова gets." in summary["text"]
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Send now"))
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Yes, send"))
    await herald.deliveries_done()

    anna = herald.emulator.last_bot_message(3001)
    bob = herald.emulator.last_bot_message(3002)
    assert anna["text"] == "🎉 Привет, Анна! Ваш поток: 3-й поток. {ok}"
    assert bob["text"] == "🎉 Привет, Bob! Ваш поток: the course. {ok}"
    for got, name in ((anna, "Анна"), (bob, "Bob")):
        (entity,) = got["entities"]
        assert _cut(got["text"], entity["offset"], entity["length"]) == name
    links = [m["reply_markup"]["inline_keyboard"][0][0]["url"] for m in (anna, bob)]
    assert links == ["https://example.org/?u=%40anna", "https://example.org/?u=Bob"]


async def test_a_message_stored_before_placeholders_goes_out_as_written(
    herald: Harness,
) -> None:
    """A message scheduled before this feature, with braces in it, is neither refused nor
    filled when it goes out."""
    await herald.enroll([3001], "3rd_stream")
    old = "Config: {x} = {first_name}"
    await herald.say(ADMIN_ID, "/start")
    await herald.app.bot_data.services.broadcaster.send_now(
        ADMIN_ID,
        Content(MessageKind.TEXT, old),
        Selection(everyone=True),
        ADMIN_ID,
        herald.last(ADMIN_ID)["message_id"],
    )
    await herald.deliveries_done()
    assert herald.emulator.last_bot_message(3001)["text"] == old
