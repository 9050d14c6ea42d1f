"""The /send conversation as an admin taps through it, including wrong input at every step."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bot.callbacks import ComposeAction, ComposeCb
from db.models import MessageHistory, MessageRecipient, RecipientType
from tests.emulator import Emulator
from tests.harness import (
    ADMIN_ID,
    EVERYONE,
    JSON,
    PHOTO,
    STICKER,
    Harness,
    button_data,
    buttons,
    make_config,
    running,
)

ENTITIES: list[JSON] = [
    {"type": "bold", "offset": 0, "length": 5},
    {"type": "italic", "offset": 6, "length": 6},
    {"type": "underline", "offset": 13, "length": 5},
    {"type": "strikethrough", "offset": 19, "length": 6},
    {"type": "spoiler", "offset": 26, "length": 6},
    {"type": "code", "offset": 33, "length": 4},
    {"type": "text_link", "offset": 38, "length": 4, "url": "https://example.org/"},
    {"type": "custom_emoji", "offset": 43, "length": 2, "custom_emoji_id": "5368324170671202286"},
]
TEXT = "Hello course! under struck secret code link 👍 end"
THIRD = [3001, 3002, 3003]
FOURTH = [4001, 4002]
LOOSE = [5001]


async def _audience(herald: Harness) -> None:
    await herald.enroll(THIRD, "3rd_stream")
    await herald.enroll(FOURTH, "4th_stream")
    await herald.enroll(LOOSE)


def _last_with_buttons(herald: Harness) -> JSON:
    for message in reversed(herald.emulator.bot_messages(ADMIN_ID)):
        if message.get("reply_markup"):
            return message
    raise AssertionError("no message with buttons")


async def _press(herald: Harness, label_part: str) -> JSON:
    """Tap the button containing `label_part` on the admin's newest menu; returns that menu."""
    menu = _last_with_buttons(herald)
    await herald.tap(ADMIN_ID, menu, button_data(menu, label_part))
    return menu


async def _to_recipients(herald: Harness, **message: Any) -> None:
    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, **message)
    await _press(herald, "Skip")


async def test_text_message_full_path(herald: Harness) -> None:
    await _audience(herald)
    prompt = await herald.say(ADMIN_ID, "/send")
    assert prompt["text"].startswith("New message (1/4)")
    assert [label for row in buttons(prompt) for label, _ in row] == ["✖️ Cancel"]

    asked = await herald.say(ADMIN_ID, TEXT, entities=ENTITIES)
    assert asked["text"].startswith("Buttons (2/4)")

    picker = await herald.say(
        ADMIN_ID, "Site - https://example.org | Chat - tg://resolve?domain=x\nDocs - https://d.io"
    )
    assert picker["text"].startswith("Recipients (3/4): 0 people selected")
    labels = [label for row in buttons(picker) for label, _ in row]
    assert labels[:4] == ["▫️ 3-й поток · 3", "▫️ 4-й поток · 2", "▫️ No stream · 1", "▫️ Everyone · 6"]

    await _press(herald, "3-й поток")
    await _press(herald, "4-й поток")
    edited = herald.emulator.find_message(ADMIN_ID, picker["message_id"])
    assert edited is not None
    assert edited["text"].startswith("Recipients (3/4): 5 people selected")
    assert "Done ✅ (5)" in [label for row in buttons(edited) for label, _ in row]

    await _press(herald, "Done")
    preview, summary = herald.emulator.bot_messages(ADMIN_ID)[-2:]
    assert preview["text"] == TEXT and preview["entities"] == ENTITIES
    assert buttons(preview) == [
        [("Site", "https://example.org"), ("Chat", "tg://resolve?domain=x")],
        [("Docs", "https://d.io")],
    ]
    assert summary["text"] == ("Review (4/4): 5 people will get it\n• 3-й поток: 3\n• 4-й поток: 2")

    await _press(herald, "Send now")
    confirm = herald.emulator.find_message(ADMIN_ID, summary["message_id"])
    assert confirm is not None and confirm["text"].endswith("Send to 5 people?")
    await _press(herald, "Yes, send")
    await herald.deliveries_done()

    report = herald.emulator.find_message(ADMIN_ID, summary["message_id"])
    assert report is not None
    assert report["text"].splitlines()[:3] == [
        "#1 · «Hello course! under struck secret code…» → 3-й поток, 4-й поток",
        "✅ Delivery finished",
        "Delivered: 5 of 5",
    ]
    assert [label for row in buttons(report) for label, _ in row] == [EVERYONE]
    for student in THIRD + FOURTH:
        got = herald.emulator.last_bot_message(student)
        assert got["text"] == TEXT and got["entities"] == ENTITIES
        assert got["reply_markup"] == preview["reply_markup"]
    assert herald.emulator.last_bot_message(LOOSE[0])["text"].startswith("Hello!")

    async with herald.sessions() as session:
        message = (await session.scalars(select(MessageHistory))).one()
        rows = (await session.scalars(select(MessageRecipient))).all()
    assert message.recipient_type is RecipientType.GROUP and message.recipient_group is None
    assert (message.total, message.delivered, message.status.value) == (5, 5, "done")
    assert message.selection["streams"] == sorted(
        [herald.stream_id("3rd_stream"), herald.stream_id("4th_stream")]
    )
    assert sorted(r.user_id for r in rows) == sorted(THIRD + FOURTH)
    assert all(r.status.value == "sent" and r.telegram_message_id and r.sent_at for r in rows)
    assert {r.username for r in rows} == {f"s{i}" for i in THIRD + FOURTH}


async def test_media_with_caption_arrives_intact(herald: Harness) -> None:
    await herald.enroll(THIRD, "3rd_stream")
    caption_entities = [{"type": "bold", "offset": 0, "length": 4}]
    await _to_recipients(
        herald, photo=PHOTO, caption="Look at this", caption_entities=caption_entities
    )
    await _press(herald, "3-й поток")
    await _press(herald, "Done")
    preview = herald.emulator.bot_messages(ADMIN_ID)[-2]
    assert preview["photo"][0]["file_id"] == "PHOTO-BIG"
    assert preview["caption"] == "Look at this" and preview["caption_entities"] == caption_entities
    await _press(herald, "Send now")
    await _press(herald, "Yes, send")
    await herald.deliveries_done()
    for student in THIRD:
        got = herald.emulator.last_bot_message(student)
        assert got["photo"][0]["file_id"] == "PHOTO-BIG"
        assert got["caption"] == "Look at this" and got["caption_entities"] == caption_entities


async def test_each_media_kind_is_accepted(herald: Harness) -> None:
    base = {"file_unique_id": "u"}
    kinds: dict[str, JSON] = {
        "video": {**base, "file_id": "V", "width": 1, "height": 1, "duration": 1},
        "document": {**base, "file_id": "D"},
        "audio": {**base, "file_id": "A", "duration": 1},
        "voice": {**base, "file_id": "VO", "duration": 1},
    }
    for kind, item in kinds.items():
        await herald.say(ADMIN_ID, "/cancel")
        await herald.say(ADMIN_ID, "/send")
        media: JSON = {kind: item, "caption": f"{kind}!"}
        reply = await herald.say(ADMIN_ID, None, **media)
        assert reply["text"].startswith("Buttons (2/4)"), kind
    animation = {**base, "file_id": "GIF", "width": 1, "height": 1, "duration": 1}
    await herald.say(ADMIN_ID, "/cancel")
    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, animation=animation, document={**base, "file_id": "GIF"})
    await _press(herald, "Skip")
    await herald.enroll(THIRD, "3rd_stream")
    await _press(herald, "Everyone")
    await _press(herald, "Done")
    preview = herald.emulator.bot_messages(ADMIN_ID)[-2]
    assert preview["animation"]["file_id"] == "GIF"


async def test_wrong_content_is_refused_and_step_kept(herald: Harness) -> None:
    await herald.say(ADMIN_ID, "/send")
    reply = await herald.say(ADMIN_ID, sticker=STICKER)
    assert reply["text"].startswith("I can't broadcast this kind of message.")
    reply = await herald.say(ADMIN_ID, photo=PHOTO, caption="one of many", media_group_id="77")
    assert "albums are not supported" in reply["text"]
    reply = await herald.say(ADMIN_ID, photo=PHOTO, caption="x" * 1025)
    assert reply["text"] == (
        "Too long: 1025 characters, the limit is 1024. Shorten it and send again."
    )
    reply = await herald.say(ADMIN_ID, "x" * 4097)
    assert reply["text"].startswith("Too long: 4097 characters, the limit is 4096.")
    reply = await herald.say(ADMIN_ID, photo=PHOTO, caption="fine")
    assert reply["text"].startswith("Buttons (2/4)")


async def test_wrong_buttons_are_refused_with_line_numbers(herald: Harness) -> None:
    await herald.enroll(THIRD, "3rd_stream")
    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, "Hi")
    reply = await herald.say(ADMIN_ID, "Site https://example.org")
    assert reply["text"] == (
        'Line 1: write the label, then " - ", then the link. Nothing was changed; '
        "send all the lines again."
    )
    reply = await herald.say(ADMIN_ID, "Ok - https://a.org\nBad - ftp://files.org")
    assert reply["text"].startswith("Line 2: the link must be http:// or https://")
    reply = await herald.say(ADMIN_ID, " | ".join(f"B{i} - https://a.org" for i in range(9)))
    assert reply["text"].startswith("Line 1: at most 8 buttons fit in one row.")
    reply = await herald.say(ADMIN_ID, photo=PHOTO)
    assert reply["text"] == "Send the buttons as text lines, or tap Skip."
    reply = await herald.say(ADMIN_ID, "Ok - https://a.org")
    assert reply["text"].startswith("Recipients (3/4)")


async def test_picker_needs_someone_and_refuses_non_text(herald: Harness) -> None:
    await herald.enroll(THIRD, "3rd_stream")
    await _to_recipients(herald, text="Hi")
    await _press(herald, "Done")
    assert herald.emulator.callback_answers[-1]["text"].startswith("Nobody is selected yet")
    reply = await herald.say(ADMIN_ID, sticker=STICKER)
    assert reply["text"] == "Tap the buttons to pick recipients, or type a name to search."
    reply = await herald.say(ADMIN_ID, "x" * 65)
    assert reply["text"] == "That is too long for a search; type at most 64 characters."


async def test_everyone_then_one_group_taken_out(herald: Harness) -> None:
    """With Everyone ticked every group shows a tick; untapping one leaves everyone else."""
    await _audience(herald)
    await _to_recipients(herald, text="Hi")
    picker = await _press(herald, "Everyone")
    shown = herald.emulator.find_message(ADMIN_ID, picker["message_id"])
    assert shown is not None and shown["text"].startswith("Recipients (3/4): 6 people selected")
    assert all(label.startswith("✅") for row in buttons(shown)[:4] for label, _ in row)
    await _press(herald, "4-й поток")
    assert shown["text"].startswith("Recipients (3/4): 4 people selected")
    assert "Everyone except: 4-й поток" in shown["text"]
    await _press(herald, "No stream")
    assert shown["text"].startswith("Recipients (3/4): 3 people selected")
    assert "Everyone except" not in shown["text"]
    await _press(herald, "No stream")
    await _press(herald, "Done")
    await _press(herald, "Send now")
    await _press(herald, "Yes, send")
    await herald.deliveries_done()
    for person in THIRD + LOOSE:
        assert herald.emulator.bot_messages(person)[-1]["text"] == "Hi"
    for person in FOURTH:
        assert all(sent.get("text") != "Hi" for sent in herald.emulator.bot_messages(person))
    async with herald.sessions() as session:
        message = (await session.scalars(select(MessageHistory))).one()
    assert (message.recipient_type, message.total) == (RecipientType.GROUP, 4)


async def test_find_people_by_username_name_and_id(herald: Harness) -> None:
    await _audience(herald)
    herald.emulator.add_user(6001, first_name="Анна", last_name="Иванова", username="anna_i")
    herald.emulator.add_user(6002, first_name="Иван", last_name="Петров")
    await herald.enroll([6001, 6002])
    await _to_recipients(herald, text="Hi")
    await _press(herald, "Find people")
    assert herald.last(ADMIN_ID)["text"].startswith("Type a @username")

    found = await herald.say(ADMIN_ID, "иван")
    assert found["text"].endswith(
        "«иван»: 2 people found. Tap to select; type again to search again."
    )
    assert [label for row in buttons(found)[:2] for label, _ in row] == [
        "▫️ Анна Иванова @anna_i",
        "▫️ Иван Петров",
    ]
    await herald.tap(ADMIN_ID, found, button_data(found, "Анна"))
    assert found["text"].startswith("Recipients (3/4): 1 person selected")

    found = await herald.say(ADMIN_ID, "@ANNA_I")
    assert [label for row in buttons(found)[:1] for label, _ in row] == ["✅ Анна Иванова @anna_i"]
    found = await herald.say(ADMIN_ID, "4001")
    await herald.tap(ADMIN_ID, found, button_data(found, "Student4001"))
    nothing = await herald.say(ADMIN_ID, "nobody-like-this")
    assert "Nobody matches «nobody-like-this»" in nothing["text"]
    assert nothing["text"].startswith("Recipients (3/4): 2 people selected")

    await herald.tap(ADMIN_ID, nothing, button_data(nothing, "Groups"))
    await _press(herald, "3-й поток")
    await _press(herald, "Done")
    summary = herald.last(ADMIN_ID)
    assert summary["text"] == (
        "Review (4/4): 5 people will get it\n• 3-й поток: 3\n• Hand-picked: 2"
    )
    await _press(herald, "Send now")
    await _press(herald, "Yes, send")
    await herald.deliveries_done()
    async with herald.sessions() as session:
        message = (await session.scalars(select(MessageHistory))).one()
    assert message.recipient_type is RecipientType.MIXED
    assert message.selection["users"] == [4001, 6001]


async def test_search_results_are_paged(herald: Harness) -> None:
    await herald.enroll(list(range(7001, 7020)), name="Pat")
    await _to_recipients(herald, text="Hi")
    found = await herald.say(ADMIN_ID, "pat")
    rows = buttons(found)
    assert len([r for r in rows if r[0][0].startswith("▫️ Pat")]) == 8
    assert [label for label, _ in rows[8]] == ["1/3", "▶"]
    await herald.tap(ADMIN_ID, found, button_data(found, "▶"))
    assert buttons(found)[0][0][0] == "▫️ Pat7009 @s7009"
    assert [label for label, _ in buttons(found)[8]] == ["◀", "2/3", "▶"]


async def test_individual_only_selection(herald: Harness) -> None:
    await _audience(herald)
    await _to_recipients(herald, text="Hi")
    found = await herald.say(ADMIN_ID, "3002")
    await herald.tap(ADMIN_ID, found, button_data(found, "Student3002"))
    await _press(herald, "Done")
    await _press(herald, "Send now")
    await _press(herald, "Yes, send")
    await herald.deliveries_done()
    async with herald.sessions() as session:
        message = (await session.scalars(select(MessageHistory))).one()
    assert (message.recipient_type, message.recipient_group, message.total) == (
        RecipientType.INDIVIDUAL,
        None,
        1,
    )
    assert herald.emulator.last_bot_message(3002)["text"] == "Hi"
    assert herald.emulator.last_bot_message(3001)["text"].startswith("Hello!")


async def test_blocked_people_are_left_out_and_counted(herald: Harness) -> None:
    await herald.enroll(THIRD, "3rd_stream")
    await herald.feed(herald.emulator.member_status(3003, "kicked"))
    await _to_recipients(herald, text="Hi")
    picker = await _press(herald, "3-й поток")
    shown = herald.emulator.find_message(ADMIN_ID, picker["message_id"])
    assert shown is not None
    assert shown["text"].startswith(
        "Recipients (3/4): 2 people selected\nBlocked the bot, left out: 1 person"
    )
    await _press(herald, "Done")
    assert herald.last(ADMIN_ID)["text"].endswith("Blocked the bot, left out: 1 person")
    await _press(herald, "Send now")
    await _press(herald, "Yes, send")
    await herald.deliveries_done()
    assert [m["text"] for m in herald.emulator.bot_messages(3003)] == [
        "Hello! You are subscribed to course announcements."
    ]


async def test_review_edits_test_and_back(herald: Harness) -> None:
    await herald.enroll(THIRD, "3rd_stream")
    await _to_recipients(herald, text="First version")
    await _press(herald, "3-й поток")
    await _press(herald, "Done")

    reply = await herald.say(ADMIN_ID, "stray text")
    assert reply["text"] == "Please use the buttons above, or /cancel to drop the draft."

    await _press(herald, "Test to me")
    assert herald.emulator.callback_answers[-1]["text"] == "Test sent to you."
    assert herald.last(ADMIN_ID)["text"] == "First version"

    await _press(herald, "Message")
    reply = await herald.say(ADMIN_ID, "Second version")
    assert reply["text"].startswith("Review (4/4): 3 people")
    assert herald.emulator.bot_messages(ADMIN_ID)[-2]["text"] == "Second version"

    await _press(herald, "Buttons")
    assert herald.last(ADMIN_ID)["text"].startswith("Buttons (2/4)")
    reply = await herald.say(ADMIN_ID, "Go - https://go.org")
    assert reply["text"].startswith("Review (4/4)")
    assert buttons(herald.emulator.bot_messages(ADMIN_ID)[-2]) == [[("Go", "https://go.org")]]
    await _press(herald, "Buttons")
    assert "Go - https://go.org" in herald.last(ADMIN_ID)["text"]

    await _press(herald, "Skip")
    assert "reply_markup" not in herald.emulator.bot_messages(ADMIN_ID)[-2]

    await _press(herald, "Recipients")
    await _press(herald, "3-й поток")
    await _press(herald, "Done")
    assert herald.emulator.callback_answers[-1]["text"].startswith("Nobody is selected yet")
    await _press(herald, "Everyone")
    await _press(herald, "Done")
    assert herald.last(ADMIN_ID)["text"] == "Review (4/4): 3 people will get it\n• Everyone: 3"

    summary = herald.last(ADMIN_ID)
    await _press(herald, "Send now")
    await _press(herald, "Back")
    shown = herald.emulator.find_message(ADMIN_ID, summary["message_id"])
    assert shown is not None and shown["text"] == summary["text"]
    reply = await herald.say(ADMIN_ID, "/cancel")
    assert reply["text"] == "Draft discarded; nothing was sent."
    async with herald.sessions() as session:
        assert (await session.scalars(select(MessageHistory))).all() == []


async def test_cancel_at_every_step(herald: Harness) -> None:
    await herald.enroll(THIRD, "3rd_stream")
    steps: list[list[JSON | str]] = [
        [],
        [{"text": "Hi"}],
        [{"text": "Hi"}, "Skip"],
        [{"text": "Hi"}, "Skip", "3-й поток", "Done"],
        [{"text": "Hi"}, "Skip", "3-й поток", "Done", "Send now"],
    ]
    for path in steps:
        await herald.say(ADMIN_ID, "/send")
        for item in path:
            if isinstance(item, dict):
                await herald.say(ADMIN_ID, **item)
            else:
                await _press(herald, item)
        reply = await herald.say(ADMIN_ID, "/cancel")
        assert reply["text"] == "Draft discarded; nothing was sent.", path
    reply = await herald.say(ADMIN_ID, "/cancel")
    assert reply["text"] == "Nothing to cancel. /send starts a new message."
    assert herald.emulator.bot_messages(3001)[-1]["text"].startswith("Hello!")


async def test_cancel_button_and_stale_buttons(herald: Harness) -> None:
    await herald.enroll(THIRD, "3rd_stream")
    prompt = await herald.say(ADMIN_ID, "/send")
    await herald.tap(ADMIN_ID, prompt, button_data(prompt, "Cancel"))
    assert herald.last(ADMIN_ID)["text"] == "Draft discarded; nothing was sent."
    await herald.tap(ADMIN_ID, prompt, button_data(prompt, "Cancel"))
    assert herald.emulator.callback_answers[-1]["text"].startswith("This menu has expired")

    await _to_recipients(herald, text="Old draft")
    old_picker = _last_with_buttons(herald)
    asked = await herald.say(ADMIN_ID, "/send")
    await herald.tap(ADMIN_ID, asked, button_data(asked, "Discard"))
    await herald.say(ADMIN_ID, "/send")
    await herald.tap(ADMIN_ID, old_picker, button_data(old_picker, "3-й поток"))
    assert herald.emulator.callback_answers[-1]["text"].startswith("This menu has expired")
    reply = await herald.say(ADMIN_ID, "New draft text")
    assert reply["text"].startswith("Buttons (2/4)")

    forged = ComposeCb("abcdef", ComposeAction.SEND).pack()
    await herald.tap(ADMIN_ID, reply, forged)
    assert herald.emulator.callback_answers[-1]["text"].startswith("This menu has expired")


async def test_menu_button_starts_compose(herald: Harness) -> None:
    menu = await herald.say(ADMIN_ID, "/start")
    await herald.tap(ADMIN_ID, menu, button_data(menu, "New message"))
    assert herald.last(ADMIN_ID)["text"].startswith("New message (1/4)")


async def test_idle_conversation_times_out(db_url: str, emulator: Emulator) -> None:
    async with running(make_config(db_url), emulator, conversation_timeout=1.0) as herald:
        await herald.say(ADMIN_ID, "/send")
        await herald.say(ADMIN_ID, "Hi")
        for _ in range(200):
            if herald.last(ADMIN_ID)["text"].startswith("The draft sat idle"):
                break
            await asyncio.sleep(0.02)
        assert herald.last(ADMIN_ID)["text"] == (
            "The draft sat idle for 1 s and was closed. /send starts a new one."
        )
        reply = await herald.say(ADMIN_ID, "Late text")
        assert reply["text"] == "Herald: what would you like to do?"
    assert herald.errors == []


async def test_another_command_during_a_draft_asks_first(herald: Harness) -> None:
    await herald.say(ADMIN_ID, "/send")
    asked = await herald.say(ADMIN_ID, "/streams")
    assert asked["text"] == (
        "You have a draft that is not sent yet (step 1/4, the message). "
        "Continue it, or discard it and then send /streams again?"
    )
    reply = await herald.say(ADMIN_ID, "Still composing")
    assert reply["text"].startswith("Buttons (2/4)")
    asked = await herald.say(ADMIN_ID, "/history")
    assert "(step 2/4, buttons)" in asked["text"]
    await herald.tap(ADMIN_ID, asked, button_data(asked, "Continue"))
    assert herald.current(asked)["text"] == (herald.app.bot_data.services.texts.draft_continued)
    assert herald.last(ADMIN_ID)["text"].startswith("Buttons (2/4)")
    asked = await herald.say(ADMIN_ID, "/send")
    await herald.tap(ADMIN_ID, asked, button_data(asked, "Discard"))
    assert "send /send again" in herald.current(asked)["text"]
    reply = await herald.say(ADMIN_ID, "/streams")
    assert reply["text"].startswith("Streams")
    reply = await herald.say(ADMIN_ID, "typed after the draft went")
    assert reply["text"] == "Herald: what would you like to do?"
