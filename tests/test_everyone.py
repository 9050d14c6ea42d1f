"""Edit, delete, pin and unpin a sent broadcast for everyone, tapped through as an admin would,
checked in the students' chats at the emulator and in the database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from bot.callbacks import DeliveryAction, DeliveryCb, EveryoneAction, EveryoneCb, EveryoneKind
from bot.delivery import everyone
from bot.delivery.content import Button, Content
from db.models import (
    ActionKind,
    AuditLog,
    DeliveryStatus,
    MessageHistory,
    MessageKind,
    MessageRecipient,
)
from db.repo.audience import Selection
from tests.emulator import DELETE_WINDOW, Emulator, FaultKind
from tests.harness import (
    ADMIN_ID,
    EVERYONE,
    JSON,
    PHOTO,
    Harness,
    button_data,
    buttons,
    progress_totals,
)

PEOPLE = list(range(3001, 3006))
LINK = (Button("Site", "https://example.com/?u={username}"),)


async def _enroll(herald: Harness, people: list[int] = PEOPLE) -> None:
    await herald.say(ADMIN_ID, "/start")
    await herald.enroll(people, "3rd_stream")


async def _broadcast(
    herald: Harness, content: Content, people: list[int] = PEOPLE, enroll: bool = True
) -> JSON:
    """Deliver `content` to `people` (the 3rd stream) the way Send now does; returns its
    report (the message the report was drawn in)."""
    if enroll:
        await _enroll(herald, people)
    broadcaster = herald.app.bot_data.services.broadcaster
    selection = Selection(stream_ids=frozenset({herald.stream_id("3rd_stream")}))
    message = await broadcaster.submit(ADMIN_ID, content, selection)
    progress = await herald.app.bot.send_message(ADMIN_ID, "…")
    broadcaster.start(message, ADMIN_ID, progress.message_id)
    await herald.deliveries_done()
    found = herald.emulator.find_message(ADMIN_ID, progress.message_id)
    assert found is not None
    return found


async def _card(herald: Harness, report: JSON) -> JSON:
    """From a report to the message's card, drawn in the same message."""
    await herald.tap(ADMIN_ID, report, button_data(report, EVERYONE))
    return herald.current(report)


async def _copies(herald: Harness, message_id: int = 1) -> dict[int, JSON | None]:
    """Each recipient's copy of a broadcast as their chat shows it now (None: gone)."""
    async with herald.sessions() as session:
        rows = (
            await session.scalars(
                select(MessageRecipient).where(MessageRecipient.message_id == message_id)
            )
        ).all()
    return {
        r.user_id: herald.emulator.find_message(r.user_id, r.telegram_message_id)
        for r in rows
        if r.telegram_message_id is not None
    }


def _labels(message: JSON) -> list[str]:
    return [label for row in buttons(message) for label, _ in row]


async def _rows(herald: Harness) -> list[MessageHistory]:
    async with herald.sessions() as session:
        return list(await session.scalars(select(MessageHistory).order_by(MessageHistory.id)))


async def _ask_and_confirm(herald: Harness, card: JSON, button: str, yes: str) -> JSON:
    await herald.tap(ADMIN_ID, card, button_data(card, button))
    question = herald.current(card)
    await herald.tap(ADMIN_ID, question, button_data(question, yes))
    await herald.deliveries_done()
    return herald.current(card)


# ----- edit ---------------------------------------------------------------------------------


async def test_edit_for_everyone_personalises_each_copy_and_keeps_the_original(
    herald: Harness,
) -> None:
    content = Content(MessageKind.TEXT, "Hi {first_name}!", buttons=(LINK,))
    report = await _broadcast(herald, content)
    before = await _copies(herald)
    card = await _card(herald, report)
    assert card["text"].startswith("<b>Message #1</b>") or card["text"].startswith("Message #1")
    await herald.tap(ADMIN_ID, card, button_data(card, "Edit for everyone"))
    assert herald.last(ADMIN_ID)["text"].startswith("✏️ Edit #1 for everyone · step 1 of 3")

    # Wrong input at step 1: each is answered and the step stays.
    await herald.say(ADMIN_ID, photo=PHOTO, caption="x")
    assert "cannot turn a text into a file" in herald.last(ADMIN_ID)["text"]
    await herald.say(ADMIN_ID, "Hello {nickname}")
    assert "{nickname}" in herald.last(ADMIN_ID)["text"]
    await herald.say(ADMIN_ID, "/stats")
    assert herald.last(ADMIN_ID)["text"].startswith("You are editing #1 for everyone")

    # Cyrillic and an emoji before the placeholder, bold over the placeholder and after it.
    text = "Новое 🎉 {first_name}, see you"
    bold = [{"type": "bold", "offset": 9, "length": 17}]
    await herald.say(ADMIN_ID, text, entities=bold)
    assert herald.last(ADMIN_ID)["text"].startswith("Step 2 of 3")
    await herald.say(ADMIN_ID, "Broken line without a link")
    assert herald.last(ADMIN_ID)["text"].startswith("Line 1:")
    await herald.press("Keep the buttons")
    preview, summary = herald.emulator.bot_messages(ADMIN_ID)[-2:]
    assert preview["text"] == "Новое 🎉 Student3001, see you"
    assert preview["entities"] == [{"type": "bold", "offset": 9, "length": 16}]
    assert summary["text"].endswith("Copies to change: 5.")
    assert [(r.action, r.parent_id) for r in await _rows(herald)] == [(None, None)]
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Edit for everyone"))
    await herald.deliveries_done()

    shown = herald.current(summary)
    assert shown["text"].splitlines()[:3] == [
        "#1 · «Новое 🎉 {first_name}, see you» → 3-й поток · edit for everyone",
        "✅ Finished",
        "Edited: 5 of 5",
    ]
    after = await _copies(herald)
    for uid in PEOPLE:
        copy, was = after[uid], before[uid]
        assert copy is not None and was is not None
        assert copy["message_id"] == was["message_id"]
        name = f"Student{uid}"
        assert copy["text"] == f"Новое 🎉 {name}, see you"
        assert copy["entities"] == [{"type": "bold", "offset": 9, "length": len(name) + 5}]
        url = copy["reply_markup"]["inline_keyboard"][0][0]["url"]
        assert url == f"https://example.com/?u=%40s{uid}"
        assert copy["_edits"] == 1
    broadcast, run = await _rows(herald)
    assert (broadcast.text, broadcast.action, broadcast.parent_id) == (
        "Hi {first_name}!",
        None,
        None,
    )
    assert (run.action, run.parent_id, run.delivered, run.total) == (ActionKind.EDIT, 1, 5, 5)

    await herald.tap(ADMIN_ID, shown, button_data(shown, "Message card"))
    card = herald.current(shown)
    lines = card["text"].splitlines()
    assert lines[1] == "«Hi {first_name}!»", "the card keeps the original text"
    assert lines[-1].startswith("✏️ Edited 1 time, last ")
    assert lines[-1].endswith(" by P1000: «Новое 🎉 {first_name}, see you»")
    listing = await herald.say(ADMIN_ID, "/history")
    assert listing["text"].splitlines()[0] == "History: 1", "an edit is not a message of its own"
    async with herald.sessions() as session:
        audit = (await session.scalars(select(AuditLog).where(AuditLog.action == "edit_all"))).one()
    assert (audit.details["was"], audit.details["now"]) == (
        "Hi {first_name}!",
        "Новое 🎉 {first_name}, see you",
    )
    assert audit.details["recipients"] == 5


async def test_an_edit_that_changes_nothing_is_refused_and_buttons_alone_can_change(
    herald: Harness,
) -> None:
    report = await _broadcast(herald, Content(MessageKind.TEXT, "Exam at 10", buttons=(LINK,)))
    card = await _card(herald, report)
    await herald.tap(ADMIN_ID, card, button_data(card, "Edit for everyone"))
    await herald.press("Keep the text")
    await herald.press("Keep the buttons")
    assert herald.last(ADMIN_ID)["text"].startswith("✏️ Edit #1 for everyone · step 1 of 3")
    assert "Nothing would change" in herald.emulator.bot_messages(ADMIN_ID)[-2]["text"]
    stale = herald.emulator.bot_messages(ADMIN_ID)[-3]
    await herald.tap(ADMIN_ID, stale, button_data(stale, "Keep the buttons"))
    assert herald.emulator.callback_answers[-1].get("show_alert") in (True, "true")

    await herald.press("Keep the text")
    await herald.press("No buttons")
    summary = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Edit for everyone"))
    await herald.deliveries_done()
    assert "Edited: 5 of 5" in herald.current(summary)["text"]
    for copy in (await _copies(herald)).values():
        assert copy is not None
        assert (copy["text"], "reply_markup" in copy) == ("Exam at 10", False)
    # A second Confirm on the same summary starts nothing.
    await herald.tap(ADMIN_ID, summary, button_data(herald.current(summary), "Message card"))
    assert len(await _rows(herald)) == 2


async def test_edit_caption_then_replace_the_photo(herald: Harness) -> None:
    report = await _broadcast(herald, Content(MessageKind.PHOTO, "Old caption", file_id="PHOTO-1"))
    card = await _card(herald, report)
    await herald.tap(ADMIN_ID, card, button_data(card, "Edit for everyone"))
    assert "Send the new caption" in herald.last(ADMIN_ID)["text"]
    await herald.say(ADMIN_ID, "x" * 1025)
    assert "1025" in herald.last(ADMIN_ID)["text"]
    await herald.say(ADMIN_ID, "New caption")
    await herald.press("No buttons")
    preview, summary = herald.emulator.bot_messages(ADMIN_ID)[-2:]
    assert (preview["photo"][0]["file_id"], preview["caption"]) == ("PHOTO-1", "New caption")
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Edit for everyone"))
    await herald.deliveries_done()
    for copy in (await _copies(herald)).values():
        assert copy is not None
        assert (copy["photo"][0]["file_id"], copy["caption"]) == ("PHOTO-1", "New caption")

    await herald.tap(ADMIN_ID, summary, button_data(herald.current(summary), "Message card"))
    card = herald.current(summary)
    await herald.tap(ADMIN_ID, card, button_data(card, "Edit for everyone"))
    await herald.say(
        ADMIN_ID,
        video={
            "file_id": "VIDEO-2",
            "file_unique_id": "v2",
            "width": 1,
            "height": 1,
            "duration": 1,
        },
        caption="Now a video",
    )
    await herald.press("No buttons")
    summary = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Edit for everyone"))
    await herald.deliveries_done()
    for copy in (await _copies(herald)).values():
        assert copy is not None and "photo" not in copy
        assert (copy["video"]["file_id"], copy["caption"]) == ("VIDEO-2", "Now a video")
    await herald.tap(ADMIN_ID, summary, button_data(herald.current(summary), "Message card"))
    assert "✏️ Edited 2 times" in herald.current(summary)["text"]


async def test_edit_outcomes_gone_blocked_and_already_so(herald: Harness) -> None:
    report = await _broadcast(herald, Content(MessageKind.TEXT, "Room 1"))
    copies = await _copies(herald)
    gone, blocked, already = PEOPLE[0], PEOPLE[1], PEOPLE[2]
    removed = copies[gone]
    assert removed is not None
    herald.emulator.chats[gone].remove(removed)
    herald.emulator.blocked.add(blocked)
    copy = copies[already]
    assert copy is not None
    copy["text"] = "Room 2"
    card = await _card(herald, report)
    await herald.tap(ADMIN_ID, card, button_data(card, "Edit for everyone"))
    await herald.say(ADMIN_ID, "Room 2")
    await herald.press("No buttons")
    summary = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Edit for everyone"))
    await herald.deliveries_done()
    shown = herald.current(summary)
    assert "Edited: 3 of 5" in shown["text"]
    assert "Failed: 1 · Blocked: 1" in shown["text"]
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Failures"))
    failures = herald.current(shown)["text"]
    assert "the message is gone from their chat" in failures
    assert "blocked the bot" in failures
    _, run = await _rows(herald)
    async with herald.sessions() as session:
        status = dict(
            (
                await session.execute(
                    select(MessageRecipient.user_id, MessageRecipient.status).where(
                        MessageRecipient.message_id == run.id
                    )
                )
            ).all()
        )
    assert status[already] is DeliveryStatus.SENT
    assert (status[gone], status[blocked]) == (DeliveryStatus.FAILED, DeliveryStatus.BLOCKED)


async def test_retry_failed_edit_and_retry_of_the_broadcast_sends_the_edited_text(
    herald: Harness,
) -> None:
    emulator = herald.emulator
    await _enroll(herald)
    emulator.fail(FaultKind.CHAT_NOT_FOUND, chat_id=PEOPLE[4], method="sendMessage")
    report = await _broadcast(herald, Content(MessageKind.TEXT, "Draft text"), enroll=False)
    emulator.fail(FaultKind.SERVER_ERROR, chat_id=PEOPLE[0], method="editMessageText", times=3)
    card = await _card(herald, report)
    await herald.tap(ADMIN_ID, card, button_data(card, "Edit for everyone"))
    await herald.say(ADMIN_ID, "Final text")
    await herald.press("No buttons")
    summary = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Edit for everyone"))
    await herald.deliveries_done()
    shown = herald.current(summary)
    assert "Edited: 3 of 4" in shown["text"]
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Retry failed"))
    await herald.deliveries_done()
    shown = herald.current(summary)
    assert "Edited: 4 of 4" in shown["text"]
    assert "Retry failed" not in str(buttons(shown))
    # The broadcast's own Retry now sends the text as it reads after the edit.
    emulator.faults.clear()
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Message card"))
    card = herald.current(shown)
    await herald.tap(ADMIN_ID, card, button_data(card, "Retry failed"))
    await herald.deliveries_done()
    assert emulator.texts_to(PEOPLE[4])[-1] == "Final text"


EDITED_BEFORE_STOP = 4


def _hold_edits_after(emulator: Emulator, people: list[int], count: int) -> asyncio.Event:
    """The first `count` students' copies are edited, the next edits are held until the event
    is set: a Stop lands in the middle of the run however fast or slow the machine is."""
    release = asyncio.Event()
    passed: list[int] = []

    async def hold(chat_id: int | None) -> None:
        if chat_id in people:
            passed.append(chat_id)
            if len(passed) > count:
                await release.wait()

    emulator.before["editMessageText"] = hold
    return release


async def _edit_stopped_in_the_middle(herald: Harness) -> tuple[JSON, JSON]:
    """A broadcast to 20 people, "Slow one" edited to "Slow two" for everyone and stopped part
    way; returns the edit's summary message and its report after the Stop."""
    people = list(range(3001, 3021))
    report = await _broadcast(herald, Content(MessageKind.TEXT, "Slow one"), people)
    card = await _card(herald, report)
    await herald.tap(ADMIN_ID, card, button_data(card, "Edit for everyone"))
    await herald.say(ADMIN_ID, "Slow two")
    await herald.press("No buttons")
    summary = herald.last(ADMIN_ID)
    release = _hold_edits_after(herald.emulator, people, EDITED_BEFORE_STOP)
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Edit for everyone"))
    return summary, await _stop_in_the_middle(herald, summary, release)


async def _stop_in_the_middle(herald: Harness, summary: JSON, release: asyncio.Event) -> JSON:
    """Wait for the held edits, tap Stop on the progress, let the held ones finish; returns
    the report."""
    for _ in range(500):
        edited = sum(1 for c in (await _copies(herald)).values() if c and c.get("_edits"))
        if edited >= EDITED_BEFORE_STOP:
            break
        await asyncio.sleep(0.01)
    progress = herald.current(summary)
    assert progress["text"].splitlines()[1].startswith("✏️ Editing: ")
    await herald.tap(ADMIN_ID, progress, button_data(progress, "Stop"))
    release.set()
    await herald.deliveries_done()
    del herald.emulator.before["editMessageText"]
    return herald.current(summary)


async def test_stop_an_edit_and_continue_for_those_not_reached(herald: Harness) -> None:
    summary, stopped = await _edit_stopped_in_the_middle(herald)
    assert stopped["text"].splitlines()[1] == "⏹ Stopped"
    left = next(label for label in _labels(stopped) if label.startswith("▶️ Continue"))
    await herald.tap(ADMIN_ID, stopped, button_data(stopped, left))
    await herald.deliveries_done()
    assert "Edited: 20 of 20" in herald.current(summary)["text"]
    for copy in (await _copies(herald)).values():
        assert copy is not None
        assert (copy["text"], copy["_edits"]) == ("Slow two", 1)


# ----- delete -------------------------------------------------------------------------------


async def test_delete_for_everyone_asks_once_with_the_count(herald: Harness) -> None:
    report = await _broadcast(herald, Content(MessageKind.TEXT, "Wrong stream!"))
    herald.emulator.blocked.add(PEOPLE[0])
    card = await _card(herald, report)
    await herald.tap(ADMIN_ID, card, button_data(card, "Delete for everyone"))
    question = herald.current(card)
    assert question["text"].splitlines() == [
        "🗑 Delete #1 for everyone?",
        "Copies in people's chats: 5. Your record here stays; the deletion cannot be undone.",
    ]
    assert _labels(question) == ["🗑 Yes, delete for everyone", "⬅️ Back"]
    await herald.tap(ADMIN_ID, question, button_data(question, "Back"))
    assert herald.current(card)["text"].startswith("Message #1")
    assert all(herald.emulator.bot_messages(uid) for uid in PEOPLE)

    shown = await _ask_and_confirm(herald, card, "Delete for everyone", "Yes, delete")
    assert shown["text"].splitlines()[1:3] == ["✅ Finished", "Deleted: 4 of 5"]
    copies = await _copies(herald)
    assert copies[PEOPLE[0]] is not None
    assert all(copies[uid] is None for uid in PEOPLE[1:])
    assert all(herald.emulator.deleted[uid] for uid in PEOPLE[1:])

    await herald.tap(ADMIN_ID, shown, button_data(shown, "Message card"))
    card = herald.current(shown)
    assert "🗑 Deleted for 4 of 5" in card["text"].splitlines()
    assert card["text"].splitlines()[1] == "«Wrong stream!»"
    # What is left: the one copy in a chat that blocked the bot.
    herald.emulator.blocked.clear()
    await herald.tap(ADMIN_ID, card, button_data(card, "Delete for everyone"))
    assert "Copies in people's chats: 1." in herald.current(card)["text"]
    await herald.tap(ADMIN_ID, card, button_data(herald.current(card), "Yes, delete"))
    await herald.deliveries_done()
    await herald.tap(ADMIN_ID, card, button_data(herald.current(card), "Message card"))
    card = herald.current(card)
    assert "🗑 Deleted for 5 of 5" in card["text"]
    assert "for everyone" not in " ".join(_labels(card)), "nothing is left to change"
    async with herald.sessions() as session:
        actions = (await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
    assert actions.count("delete_all") == 2


async def test_delete_after_48_hours_says_so_instead_of_failing_per_person(
    herald: Harness,
) -> None:
    report = await _broadcast(herald, Content(MessageKind.TEXT, "Old news"))
    copies = await _copies(herald)
    # One copy is past Telegram's window though the ledger thinks it recent: that person fails
    # with a reason, the others are deleted.
    late = copies[PEOPLE[0]]
    assert late is not None
    late["date"] -= DELETE_WINDOW + 60
    card = await _card(herald, report)
    shown = await _ask_and_confirm(herald, card, "Delete for everyone", "Yes, delete")
    assert "Deleted: 4 of 5" in shown["text"]
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Failures"))
    assert "sent over 48 hours ago" in herald.current(shown)["text"]

    # Past 48 hours for every copy: the button says so and explains, nothing is tried.
    async with herald.sessions.begin() as session:
        await session.execute(
            update(MessageRecipient)
            .where(MessageRecipient.message_id == 1)
            .values(sent_at=herald.app.bot_data.services.clock() - timedelta(hours=49))
        )
    await herald.tap(ADMIN_ID, shown, button_data(herald.current(shown), "Report"))
    await herald.tap(ADMIN_ID, shown, button_data(herald.current(shown), "Message card"))
    card = herald.current(shown)
    assert "🗑 Delete: over 48 h, not possible" in _labels(card)
    await herald.tap(ADMIN_ID, card, button_data(card, "over 48 h"))
    answer = herald.emulator.callback_answers[-1]
    assert answer["text"].startswith("Telegram lets a bot delete its messages only for 48 hours")
    assert answer["show_alert"] in (True, "true")
    assert len(await _rows(herald)) == 2


# ----- pin ----------------------------------------------------------------------------------


async def test_pin_then_unpin_for_everyone(herald: Harness) -> None:
    report = await _broadcast(herald, Content(MessageKind.TEXT, "Timetable"))
    copies = await _copies(herald)
    card = await _card(herald, report)
    shown = await _ask_and_confirm(herald, card, "Pin for everyone", "Yes, pin")
    assert "Pinned: 5 of 5" in shown["text"]
    for uid in PEOPLE:
        copy = copies[uid]
        assert copy is not None
        assert herald.emulator.pinned[uid] == [copy["message_id"]]
        assert copy["_pinned_silently"] is True
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Message card"))
    card = herald.current(shown)
    assert "📌 Pinned for 5 of 5" in card["text"]
    assert "📍 Unpin for everyone" in _labels(card)
    shown = await _ask_and_confirm(herald, card, "Unpin for everyone", "Yes, unpin")
    assert "Unpinned: 5 of 5" in shown["text"]
    assert all(herald.emulator.pinned[uid] == [] for uid in PEOPLE)
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Message card"))
    assert "📌 Pin for everyone" in _labels(herald.current(shown))


async def test_every_run_counts_all_copies_from_its_first_frame(herald: Harness) -> None:
    """Pin, unpin, edit and delete for 5 read "0 of 5" from their first frame, never "of 0"."""
    report = await _broadcast(herald, Content(MessageKind.TEXT, "Timetable"))

    async def slow(chat_id: int | None) -> None:
        if chat_id != ADMIN_ID:
            await asyncio.sleep(0.1)

    for method in ("pinChatMessage", "unpinChatMessage", "editMessageText", "deleteMessage"):
        herald.emulator.before[method] = slow
    seen = 0

    def frames_since(message: JSON) -> list[tuple[int, int]]:
        nonlocal seen
        totals = progress_totals(herald.current(message))
        new, seen = totals[seen:], len(totals)
        return new

    card = await _card(herald, report)
    frames_since(card)  # the broadcast's own frames, drawn in this message before
    for button, yes in (("Pin for everyone", "Yes, pin"), ("Unpin for everyone", "Yes, unpin")):
        shown = await _ask_and_confirm(herald, card, button, yes)
        run = frames_since(shown)
        assert run and run[0] == (0, 5) and {total for _, total in run} == {5}, (button, run)
        await herald.tap(ADMIN_ID, shown, button_data(shown, "Message card"))

    await herald.tap(ADMIN_ID, card, button_data(herald.current(card), "Edit for everyone"))
    await herald.say(ADMIN_ID, "Timetable, corrected")
    await herald.press("No buttons")
    summary = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Edit for everyone"))
    await herald.deliveries_done()
    seen = 0
    edit = frames_since(summary)
    assert edit and edit[0] == (0, 5) and {total for _, total in edit} == {5}, edit
    assert "Edited: 5 of 5" in herald.current(summary)["text"]

    await herald.tap(ADMIN_ID, summary, button_data(herald.current(summary), "Message card"))
    shown = await _ask_and_confirm(herald, summary, "Delete for everyone", "Yes, delete")
    delete = frames_since(shown)
    assert delete and delete[0] == (0, 5) and {total for _, total in delete} == {5}, delete
    assert "Deleted: 5 of 5" in shown["text"]


# ----- races and states ---------------------------------------------------------------------


async def test_two_admins_starting_actions_at_once_get_one_run(herald: Harness) -> None:
    await _broadcast(herald, Content(MessageKind.TEXT, "Race"))
    services = herald.app.bot_data.services
    results = await asyncio.gather(
        *(
            everyone.open_run(services.sessions, services.clock, ADMIN_ID, 1, action)
            for action in (ActionKind.DELETE, ActionKind.PIN, ActionKind.DELETE)
        )
    )
    runs = [r for r in results if isinstance(r, MessageHistory)]
    assert len(runs) == 1
    assert sorted(r for r in results if isinstance(r, everyone.Refusal)) == ["busy", "busy"]


async def test_no_action_while_the_broadcast_is_going_out_or_on_a_failed_one(
    herald: Harness,
) -> None:
    await _enroll(herald)
    for uid in PEOPLE:
        herald.emulator.fail(FaultKind.BLOCKED, chat_id=uid, method="sendMessage")
    report = await _broadcast(herald, Content(MessageKind.TEXT, "Nobody gets it"), enroll=False)
    assert EVERYONE not in _labels(report)
    services = herald.app.bot_data.services
    refused = await everyone.open_run(
        services.sessions, services.clock, ADMIN_ID, 1, ActionKind.PIN
    )
    assert refused is everyone.Refusal.NOBODY
    refused = await everyone.open_run(
        services.sessions, services.clock, ADMIN_ID, 99, ActionKind.PIN
    )
    assert refused is everyone.Refusal.GONE


# ----- regressions found by attacking the feature -------------------------------------------


async def test_a_run_just_opened_is_never_taken_for_an_orphan(herald: Harness) -> None:
    """The tap starts the run before anything else awaits, so the resume job (every few
    seconds) finds it running here and leaves it alone."""
    report = await _broadcast(herald, Content(MessageKind.TEXT, "Pin me"))
    card = await _card(herald, report)
    await herald.tap(ADMIN_ID, card, button_data(card, "Pin for everyone"))
    broadcaster = herald.app.bot_data.services.broadcaster
    question = herald.current(card)
    resumed: list[int] = []

    async def resume_job(_chat: int | None) -> None:  # while the tap's answer is on its way
        resumed.extend(await broadcaster.resume_orphans())

    herald.emulator.before["answerCallbackQuery"] = resume_job
    await herald.tap(ADMIN_ID, question, button_data(question, "Yes, pin"))
    del herald.emulator.before["answerCallbackQuery"]
    await herald.deliveries_done()
    assert resumed == []
    assert "Pinned: 5 of 5" in herald.current(card)["text"]
    async with herald.sessions() as session:
        actions = (await session.scalars(select(AuditLog.action))).all()
    assert "resume" not in actions


async def test_an_edit_begun_before_another_admins_edit_is_refused(herald: Harness) -> None:
    report = await _broadcast(herald, Content(MessageKind.TEXT, "v1", buttons=(LINK,)))
    card = await _card(herald, report)
    await herald.tap(ADMIN_ID, card, button_data(card, "Edit for everyone"))
    await herald.press("Keep the text")
    buttons_step = herald.last(ADMIN_ID)
    services = herald.app.bot_data.services
    other = await everyone.open_run(
        services.sessions,
        services.clock,
        ADMIN_ID,
        1,
        ActionKind.EDIT,
        Content(MessageKind.TEXT, "v2", buttons=(LINK,)),
    )
    assert isinstance(other, MessageHistory)
    services.broadcaster.start(other, ADMIN_ID, None)
    await herald.deliveries_done()
    await herald.tap(ADMIN_ID, buttons_step, button_data(buttons_step, "No buttons"))
    summary = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Edit for everyone"))
    answer = herald.emulator.callback_answers[-1]
    assert answer["text"].startswith("Another admin changed this message")
    assert {c["text"] for c in (await _copies(herald)).values() if c} == {"v2"}


async def test_a_second_yes_on_the_same_question_does_nothing(herald: Harness) -> None:
    report = await _broadcast(herald, Content(MessageKind.TEXT, "Once"))
    card = await _card(herald, report)
    await herald.tap(ADMIN_ID, card, button_data(card, "Pin for everyone"))
    question = dict(herald.current(card))
    yes = button_data(question, "Yes, pin")
    await herald.tap(ADMIN_ID, question, yes)
    await herald.deliveries_done()
    await herald.tap(ADMIN_ID, question, yes)
    await herald.deliveries_done()
    assert len(await _rows(herald)) == 2
    assert herald.emulator.callback_answers[-1]["text"].startswith("Another admin changed")


async def test_after_a_delete_nothing_is_pinned_and_the_broadcast_is_not_sent_again(
    herald: Harness,
) -> None:
    await _enroll(herald)
    herald.emulator.fail(FaultKind.CHAT_NOT_FOUND, chat_id=PEOPLE[4], method="sendMessage")
    report = await _broadcast(herald, Content(MessageKind.TEXT, "Wrong stream!"), enroll=False)
    herald.emulator.faults.clear()
    card = await _card(herald, report)
    shown = await _ask_and_confirm(herald, card, "Pin for everyone", "Yes, pin")
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Message card"))
    shown = await _ask_and_confirm(herald, herald.current(shown), "Delete for", "Yes, delete")
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Message card"))
    card = herald.current(shown)
    assert "Pinned for" not in card["text"]
    assert "🗑 Deleted for 4 of 4" in card["text"]
    assert "🔁 Retry failed" not in _labels(card)
    # A Retry left on an older screen (the report from before the deletion) answers instead.
    await herald.tap(ADMIN_ID, card, DeliveryCb(DeliveryAction.RETRY, 1).pack())
    assert herald.emulator.callback_answers[-1]["text"].startswith("This message was deleted")
    await herald.deliveries_done()
    assert "Wrong stream!" not in herald.texts_to(PEOPLE[4])


async def test_no_retry_of_a_run_while_the_broadcast_is_retried(herald: Harness) -> None:
    await _enroll(herald)
    emulator = herald.emulator
    emulator.fail(FaultKind.CHAT_NOT_FOUND, chat_id=PEOPLE[4], method="sendMessage")
    await _broadcast(herald, Content(MessageKind.TEXT, "A"), enroll=False)
    emulator.fail(FaultKind.SERVER_ERROR, chat_id=PEOPLE[0], method="pinChatMessage", times=3)
    services = herald.app.bot_data.services
    broadcaster = services.broadcaster
    run = await everyone.open_run(services.sessions, services.clock, ADMIN_ID, 1, ActionKind.PIN)
    assert isinstance(run, MessageHistory)
    broadcaster.start(run, ADMIN_ID, None)
    await herald.deliveries_done()
    emulator.faults.clear()
    parent = await broadcaster.retry(1, ADMIN_ID, (DeliveryStatus.FAILED,))
    assert isinstance(parent, MessageHistory)
    again = await broadcaster.retry(run.id, ADMIN_ID, (DeliveryStatus.FAILED,))
    broadcaster.start(parent, ADMIN_ID, None)
    await herald.deliveries_done()
    assert again is everyone.Refusal.BUSY


async def test_a_stopped_edit_can_be_finished_after_a_pin(herald: Harness) -> None:
    _, stopped = await _edit_stopped_in_the_middle(herald)
    services = herald.app.bot_data.services
    pin = await everyone.open_run(services.sessions, services.clock, ADMIN_ID, 1, ActionKind.PIN)
    assert isinstance(pin, MessageHistory)
    services.broadcaster.start(pin, ADMIN_ID, None)
    await herald.deliveries_done()
    # The same text again is not "nothing would change": not every copy reads it yet.
    await herald.tap(ADMIN_ID, stopped, button_data(stopped, "Message card"))
    card = herald.current(stopped)
    await herald.tap(ADMIN_ID, card, button_data(card, "Edit for everyone"))
    await herald.say(ADMIN_ID, "Slow two")
    await herald.press("No buttons")
    assert herald.last(ADMIN_ID)["text"].startswith("✏️ Edit #1 for everyone · step 3")
    # And Continue on the stopped edit (run 2) is still allowed after the pin.
    await herald.tap(ADMIN_ID, stopped, DeliveryCb(DeliveryAction.REPORT, 2).pack())
    shown = herald.current(stopped)
    left = next(label for label in _labels(shown) if label.startswith("▶️ Continue"))
    await herald.tap(ADMIN_ID, shown, button_data(shown, left))
    await herald.deliveries_done()
    assert "Edited: 20 of 20" in herald.current(stopped)["text"]
    assert {c["text"] for c in (await _copies(herald)).values() if c} == {"Slow two"}


async def test_a_refused_edit_on_another_card_keeps_the_open_edit(herald: Harness) -> None:
    await _enroll(herald)
    first = await _broadcast(herald, Content(MessageKind.TEXT, "First"), enroll=False)
    second = await _broadcast(herald, Content(MessageKind.TEXT, "Second"), enroll=False)
    card_one = await _card(herald, first)
    card_two = await _card(herald, second)
    await herald.tap(ADMIN_ID, card_one, button_data(card_one, "Edit for everyone"))
    draft = herald.app.user_data[ADMIN_ID].amend
    assert draft is not None and draft.parent_id == 1
    shown = await _ask_and_confirm(herald, card_two, "Delete for", "Yes, delete")
    await herald.tap(ADMIN_ID, shown, button_data(shown, "Message card"))
    card_two = herald.current(shown)
    assert "Edit for everyone" not in " ".join(_labels(card_two)), "nothing is left to edit"
    # An Edit button left on an older screen of the second message: refused, with the reason.
    await herald.tap(
        ADMIN_ID, card_two, EveryoneCb(EveryoneAction.ASK, EveryoneKind.EDIT, 2).pack()
    )
    assert herald.emulator.callback_answers[-1]["text"].startswith("No copy of this message")
    assert herald.app.user_data[ADMIN_ID].amend is draft
    await herald.say(ADMIN_ID, "/users")
    assert herald.last(ADMIN_ID)["text"].startswith("You are editing #1 for everyone")
    await herald.say(ADMIN_ID, "First, fixed")
    await herald.press("No buttons")
    assert "Copies to change: 5." in herald.last(ADMIN_ID)["text"]
