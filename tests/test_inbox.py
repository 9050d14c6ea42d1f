"""Students write to the bot and admins reply from it (`[bot] replies = "forward"`), tapped
through at the emulator and checked in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.callbacks import MenuAction, MenuCb
from bot.delivery.content import Content
from db.models import (
    AuditLog,
    InboxMessage,
    MessageHistory,
    MessageKind,
    MessageRecipient,
    RecipientType,
)
from db.repo.audience import Selection
from tests.emulator import Emulator
from tests.harness import (
    ADMIN_ID,
    JSON,
    OTHER_ADMIN_ID,
    PHOTO,
    Harness,
    button_data,
    buttons,
    make_config,
    running,
)

STUDENT = 3001
OTHER = 3002


@pytest.fixture
async def inbox(db_url: str, emulator: Emulator) -> AsyncIterator[Harness]:
    config = make_config(db_url, bot={"replies": "forward", "reply_flood_per_minute": 5})
    async with running(config, emulator, people=(ADMIN_ID, OTHER_ADMIN_ID)) as harness:
        await harness.say(ADMIN_ID, "/start")
        await harness.say(OTHER_ADMIN_ID, "/start")
        harness.emulator.add_user(STUDENT, "Anna", "Smith", username="anna")
        harness.emulator.add_user(OTHER, "Boris")
        await harness.say(STUDENT, "/start 3rd_stream")
        await harness.say(OTHER, "/start")
        yield harness


def _labels(message: JSON) -> list[str]:
    return [label for row in buttons(message) for label, _ in row]


def _header_and_copy(herald: Harness, admin: int = ADMIN_ID) -> tuple[JSON, JSON]:
    header, copy = herald.emulator.bot_messages(admin)[-2:]
    return header, copy


async def test_a_students_message_reaches_every_admin_with_a_header(inbox: Harness) -> None:
    herald = inbox
    answer = await herald.say(STUDENT, "When is the exam?")
    assert answer["text"] == "Your message was passed to the course team."
    for admin in (ADMIN_ID, OTHER_ADMIN_ID):
        header, copy = _header_and_copy(herald, admin)
        assert header["text"].splitlines() == [
            "📨 A student wrote:",
            "Anna Smith @anna · 3-й поток",
        ]
        assert _labels(header) == ["↩️ Reply", "👤 Person", "✅ Done"]
        assert copy["text"] == "When is the exam?"
        assert copy["reply_to_message"]["message_id"] == header["message_id"]
    # A second message in the same open thread is not acknowledged again.
    before = herald.count(STUDENT)
    await herald.say(STUDENT, photo=PHOTO, caption="my homework")
    assert herald.count(STUDENT) == before
    header, copy = _header_and_copy(herald)
    assert copy["caption"] == "my homework" and copy["photo"]
    async with herald.sessions() as session:
        rows = (await session.scalars(select(InboxMessage).order_by(InboxMessage.id))).all()
    assert [(r.user_id, r.kind, r.text, r.open) for r in rows] == [
        (STUDENT, "text", "When is the exam?", True),
        (STUDENT, "photo", "my homework", True),
    ]


async def test_a_reply_to_a_broadcast_names_it(inbox: Harness) -> None:
    herald = inbox
    broadcaster = herald.app.bot_data.services.broadcaster
    selection = Selection(user_ids=frozenset({STUDENT}))
    message = await broadcaster.submit(
        ADMIN_ID, Content(MessageKind.TEXT, "Exam moved to Friday"), selection
    )
    broadcaster.start(message, ADMIN_ID, None)
    await herald.deliveries_done()
    copy = herald.emulator.last_bot_message(STUDENT)
    await herald.say(STUDENT, "Which room?", reply_to_message=copy)
    header, _ = _header_and_copy(herald)
    assert header["text"].splitlines()[-1] == "↩️ to #1 «Exam moved to Friday»"


async def test_reply_button_sends_as_the_bot_and_records_the_thread(inbox: Harness) -> None:
    herald = inbox
    await herald.say(STUDENT, "When is the exam?")
    header, _ = _header_and_copy(herald)
    await herald.tap(ADMIN_ID, header, button_data(header, "Reply"))
    assert herald.last(ADMIN_ID)["text"].startswith("↩️ Reply to Anna Smith:")
    # Another command meanwhile is answered with what is waiting.
    await herald.say(ADMIN_ID, "/stats")
    assert herald.last(ADMIN_ID)["text"] == (
        "You are replying to Anna Smith: send the reply, or /cancel."
    )
    await herald.say(ADMIN_ID, "Monday at 10, room {5}")
    assert herald.last(ADMIN_ID)["text"] == "✅ Reply sent to Anna Smith."
    assert herald.emulator.last_bot_message(STUDENT)["text"] == "Monday at 10, room {5}"
    async with herald.sessions() as session:
        reply = (await session.scalars(select(MessageHistory))).one()
        row = (await session.scalars(select(MessageRecipient))).one()
        student_message = (await session.scalars(select(InboxMessage))).one()
        actions = (await session.scalars(select(AuditLog.action))).all()
    assert (reply.recipient_type, reply.author_id, reply.answers_id) == (
        RecipientType.INDIVIDUAL,
        ADMIN_ID,
        student_message.id,
    )
    assert (row.user_id, row.status.value) == (STUDENT, "sent")
    assert student_message.answered_at is not None and not student_message.open
    assert "reply" in actions
    listing = await herald.say(ADMIN_ID, "/inbox")
    assert listing["text"].splitlines()[-1] == "No open messages from students."


async def test_telegrams_own_reply_to_the_copy_goes_to_the_student(inbox: Harness) -> None:
    herald = inbox
    await herald.say(STUDENT, "Hello?")
    _, copy = _header_and_copy(herald, OTHER_ADMIN_ID)
    await herald.say(OTHER_ADMIN_ID, "Hi Anna!", reply_to_message=copy)
    assert herald.emulator.last_bot_message(STUDENT)["text"] == "Hi Anna!"
    assert herald.last(OTHER_ADMIN_ID)["text"] == "✅ Reply sent to Anna Smith."
    # A Telegram reply to anything else is an ordinary message (the menu).
    menu = herald.emulator.bot_messages(OTHER_ADMIN_ID)[0]
    await herald.say(OTHER_ADMIN_ID, "just text", reply_to_message=menu)
    assert herald.emulator.last_bot_message(STUDENT)["text"] == "Hi Anna!"


async def test_inbox_lists_open_threads_and_done_closes_one(inbox: Harness) -> None:
    herald = inbox
    await herald.say(STUDENT, "one")
    await herald.say(STUDENT, "two")
    await herald.say(OTHER, "three")
    listing = await herald.say(ADMIN_ID, "/inbox")
    lines = listing["text"].splitlines()
    assert lines[0] == "📥 Inbox: open threads 2 · unanswered messages 3"
    labels = _labels(listing)
    assert labels[0].startswith("Boris · 1 · ") and labels[1].startswith("Anna Smith · 2 · ")
    await herald.tap(ADMIN_ID, listing, button_data(listing, "Anna Smith"))
    thread = herald.current(listing)
    body = thread["text"].splitlines()
    assert body[0] == "Anna Smith @anna · 3-й поток"
    assert [line.split(" · ")[-1] for line in body[1:]] == ["one", "two"]
    await herald.tap(ADMIN_ID, thread, button_data(thread, "Done"))
    assert herald.emulator.callback_answers[-1]["text"] == "Marked done: 2 messages"
    await herald.tap(ADMIN_ID, thread, button_data(thread, "Done"))
    assert herald.emulator.callback_answers[-1]["text"] == "Nothing is open from this student."
    await herald.tap(ADMIN_ID, thread, button_data(thread, "Inbox"))
    assert herald.current(thread)["text"].splitlines()[0] == (
        "📥 Inbox: open threads 1 · unanswered messages 1"
    )
    await herald.tap(ADMIN_ID, thread, button_data(herald.current(thread), "Boris"))
    await herald.tap(ADMIN_ID, thread, button_data(herald.current(thread), "Person"))
    assert herald.last(ADMIN_ID)["text"].startswith("Boris")
    # After Done, a new message opens a new thread and is acknowledged again.
    answer = await herald.say(STUDENT, "three")
    assert answer["text"] == "Your message was passed to the course team."
    stats = await herald.say(ADMIN_ID, "/stats")
    assert "Received: 4 · Answered: 0 · Median time to answer: —" in stats["text"]


async def test_a_flood_gets_one_note_then_silence(inbox: Harness) -> None:
    herald = inbox
    for n in range(5):
        await herald.say(STUDENT, f"message {n}")
    forwarded = len(herald.emulator.bot_messages(ADMIN_ID))
    await herald.say(STUDENT, "sixth")
    assert herald.emulator.last_bot_message(STUDENT)["text"].startswith(
        "You are writing faster than the team can read"
    )
    notes = herald.count(STUDENT)
    await herald.say(STUDENT, "seventh")
    assert herald.count(STUDENT) == notes
    assert len(herald.emulator.bot_messages(ADMIN_ID)) == forwarded


async def test_a_reply_to_a_student_who_blocked_the_bot_says_so(inbox: Harness) -> None:
    herald = inbox
    await herald.say(STUDENT, "bye")
    header, _ = _header_and_copy(herald)
    herald.emulator.blocked.add(STUDENT)
    await herald.tap(ADMIN_ID, header, button_data(header, "Reply"))
    await herald.say(ADMIN_ID, "Wait!")
    assert herald.last(ADMIN_ID)["text"] == (
        "⚠️ Anna Smith blocked the bot; the reply was not delivered."
    )
    async with herald.sessions() as session:
        student_message = (await session.scalars(select(InboxMessage))).one()
    assert student_message.open and student_message.answered_at is None


async def test_replies_off_by_default(herald: Harness) -> None:
    await herald.enroll([STUDENT], "3rd_stream")
    answer = await herald.say(STUDENT, "hello")
    assert answer["text"] == herald.app.bot_data.services.texts.student_text_reply
    listing = await herald.say(ADMIN_ID, "/inbox")
    assert listing["text"].startswith("Students' messages are not forwarded to admins.")


# ----- regressions found by attacking the feature -------------------------------------------


async def test_a_reply_prompt_ends_when_the_admin_goes_elsewhere(inbox: Harness) -> None:
    """Reply, then "New message" in the menu: the typed text is the new draft's, not a reply."""
    herald = inbox
    menu = herald.emulator.bot_messages(ADMIN_ID)[0]
    await herald.say(STUDENT, "question")
    header, _ = _header_and_copy(herald)
    await herald.tap(ADMIN_ID, header, button_data(header, "Reply"))
    await herald.tap(ADMIN_ID, menu, MenuCb(MenuAction.SEND).pack())
    await herald.say(ADMIN_ID, "Broadcast text for all streams")
    assert herald.emulator.texts_to(STUDENT)[-1] != "Broadcast text for all streams"
    assert herald.last(ADMIN_ID)["text"].startswith("Buttons")


async def test_answering_by_telegram_reply_ends_an_open_prompt(inbox: Harness) -> None:
    herald = inbox
    await herald.say(STUDENT, "question")
    header, copy = _header_and_copy(herald)
    await herald.tap(ADMIN_ID, header, button_data(header, "Reply"))
    await herald.say(ADMIN_ID, "the answer", reply_to_message=copy)
    await herald.say(ADMIN_ID, "a note to myself")
    assert herald.emulator.texts_to(STUDENT)[-1] == "the answer"


async def test_a_telegram_reply_answers_the_message_it_replies_to(
    db_url: str, emulator: Emulator
) -> None:
    config = make_config(db_url, bot={"replies": "forward", "close_on_answer": False})
    async with running(config, emulator, people=(ADMIN_ID, OTHER_ADMIN_ID)) as herald:
        await herald.say(ADMIN_ID, "/start")
        herald.emulator.add_user(STUDENT, "Anna", "Smith", username="anna")
        await herald.say(STUDENT, "/start")
        await herald.say(STUDENT, "first question")
        _, first_copy = _header_and_copy(herald)
        await herald.say(STUDENT, "second question")
        await herald.say(ADMIN_ID, "answer to the first", reply_to_message=first_copy)
        listing = await herald.say(ADMIN_ID, "/inbox")
        async with herald.sessions() as session:
            asked = (await session.scalars(select(InboxMessage).order_by(InboxMessage.id))).all()
            reply = (await session.scalars(select(MessageHistory))).one()
    assert reply.answers_id == asked[0].id
    # Answered but not closed (close_on_answer = false): still open, no longer "unanswered".
    assert all(m.open and m.answered_at is not None for m in asked)
    assert listing["text"].splitlines()[0] == "📥 Inbox: open threads 1 · unanswered messages 0"


async def test_every_photo_of_an_album_reaches_the_admins_with_one_acknowledgement(
    inbox: Harness,
) -> None:
    herald = inbox
    before = len(herald.emulator.bot_messages(ADMIN_ID))
    student_before = herald.count(STUDENT)
    for n in range(3):
        caption = {"caption": "homework"} if n == 0 else {}
        await herald.say(STUDENT, photo=PHOTO, media_group_id="album-1", **caption)
    shown = herald.emulator.bot_messages(ADMIN_ID)[before:]
    assert sum(1 for m in shown if "photo" in m) == 3
    assert herald.count(STUDENT) == student_before + 1


async def test_a_service_message_is_not_passed_on(inbox: Harness) -> None:
    herald = inbox
    before, admins_before = herald.count(STUDENT), herald.count(ADMIN_ID)
    await herald.feed(
        herald.emulator.user_message(
            STUDENT,
            None,
            pinned_message={
                "message_id": 1,
                "date": 0,
                "chat": {"id": STUDENT, "type": "private", "first_name": "Anna"},
            },
        )
    )
    assert (herald.count(STUDENT), herald.count(ADMIN_ID)) == (before, admins_before)
    async with herald.sessions() as session:
        assert (await session.scalars(select(InboxMessage))).all() == []


async def test_a_students_name_and_text_are_shown_as_text_not_markup(inbox: Harness) -> None:
    herald = inbox
    herald.emulator.add_user(3005, "<b>x</b>&", "<i>", username="evil")
    await herald.say(3005, "/start")
    await herald.say(3005, "<script>hi</script> & stuff")
    header, copy = _header_and_copy(herald)
    assert header["text"].splitlines()[1] == "<b>x</b>& <i> @evil · No stream"
    assert copy["text"] == "<script>hi</script> & stuff"
    listing = await herald.say(ADMIN_ID, "/inbox")
    await herald.tap(ADMIN_ID, listing, button_data(listing, "<b>x"))
    assert "<script>hi</script> & stuff" in herald.current(listing)["text"]
