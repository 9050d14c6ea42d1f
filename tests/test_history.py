"""/history, /stats and /audit on hand-built data, checked against the database."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bot.callbacks import (
    AuditCb,
    ComposeAction,
    ComposeCb,
    DeliveryAction,
    DeliveryCb,
    HistoryAction,
    HistoryCb,
    HistoryKind,
    HistoryTarget,
    MenuAction,
    MenuCb,
    Period,
    QueueAction,
    QueueCb,
    StatsCb,
)
from bot.config import Config
from bot.delivery.content import Content
from db.models import AuditLog, MessageHistory, MessageKind, MessageRecipient
from db.repo.audience import Selection
from tests.emulator import Emulator, FaultKind
from tests.harness import (
    ADMIN_ID,
    JSON,
    OTHER_ADMIN_ID,
    STUDENT_ID,
    Harness,
    button_data,
    buttons,
    make_config,
    running,
)

THIRD = list(range(3001, 3011))
FOURTH = list(range(4001, 4006))
LOOSE = [5001, 5002]


async def _send(herald: Harness, text: str, selection: Selection) -> int:
    """Store and deliver a message the way "Send now" does, and wait for the report."""
    broadcaster = herald.app.bot_data.services.broadcaster
    message = await broadcaster.submit(ADMIN_ID, Content(MessageKind.TEXT, text), selection)
    progress = await herald.app.bot.send_message(ADMIN_ID, "…")
    broadcaster.start(message, ADMIN_ID, progress.message_id)
    await herald.deliveries_done()
    return message.id


async def _world(herald: Harness) -> dict[str, int]:
    """Three streams' worth of people and one message of each kind."""
    await herald.say(ADMIN_ID, "/start")
    await herald.enroll(THIRD, "3rd_stream")
    await herald.enroll(FOURTH, "4th_stream")
    await herald.enroll(LOOSE)
    await herald.feed(herald.emulator.member_status(4005, "kicked"))
    third = herald.stream_id("3rd_stream")
    fourth = herald.stream_id("4th_stream")
    herald.emulator.fail(FaultKind.CHAT_NOT_FOUND, chat_id=3002, method="sendMessage")
    herald.emulator.fail(FaultKind.BLOCKED, chat_id=3003, method="sendMessage")
    ids = {
        "group": await _send(herald, "To the third stream", Selection(frozenset({third}))),
        "individual": await _send(herald, "Just you", Selection(user_ids=frozenset({5001}))),
        "mixed": await _send(
            herald,
            "Fourth and one more",
            Selection(frozenset({fourth}), user_ids=frozenset({3001})),
        ),
        "everyone": await _send(herald, "Hello everyone", Selection(everyone=True)),
    }
    services = herald.app.bot_data.services
    later = await services.broadcaster.schedule(
        ADMIN_ID,
        Content(MessageKind.TEXT, "Later"),
        Selection(no_stream=True),
        datetime.now(UTC) + timedelta(days=1),
    )
    ids["scheduled"] = later.id
    return ids


def _entries(message: JSON) -> list[str]:
    """The entry buttons of a history list, top to bottom."""
    return [label for row in buttons(message) for label, _ in row if " #" in label]


def _ids(message: JSON) -> list[str]:
    return [label.split(" · ")[0].split(" ", 1)[1] for label in _entries(message)]


async def test_empty_states(herald: Harness) -> None:
    reply = await herald.say(ADMIN_ID, "/history")
    assert reply["text"] == (
        "History: 0\nType: All · To: All\nNo messages yet. /send composes one."
    )
    assert [label for row in buttons(reply) for label, _ in row] == ["🔎 Filters", "⬅️ Menu"]
    reply = await herald.say(ADMIN_ID, "/stats")
    assert "Registered: 0" in reply["text"] and "Messages sent: 0" in reply["text"]
    assert "Delivered: 0 (0.0%)" in reply["text"]
    reply = await herald.say(ADMIN_ID, "/audit")
    assert reply["text"] == "Audit log · All: 0\nNo actions recorded yet."


async def test_history_entries_filters_and_paging(herald: Harness) -> None:
    ids = await _world(herald)
    listing = await herald.say(ADMIN_ID, "/history")
    assert listing["text"].splitlines() == [
        "History: 5",
        "Type: All · To: All",
        f"⏰ #{ids['scheduled']} «Later»",
        f"✅ #{ids['everyone']} «Hello everyone»",
        f"✅ #{ids['mixed']} «Fourth and one more»",
        f"✅ #{ids['individual']} «Just you»",
        f"⚠️ #{ids['group']} «To the third stream»",
        "Tap a message to open it. ⚠️: someone was not reached.",
    ]
    assert _ids(listing) == [
        f"#{ids[k]}" for k in ("scheduled", "everyone", "mixed", "individual", "group")
    ]
    entries = _entries(listing)
    assert entries[-1].startswith(f"⚠️ #{ids['group']} · ")
    assert entries[-1].endswith(" · 3-й поток · 8/10")
    assert entries[0].startswith(f"⏰ #{ids['scheduled']} · ")
    assert entries[0].endswith(" · No stream · 0/0")
    assert entries[2].endswith(" · 4-й поток, 1 hand-picked · 5/5")
    assert entries[2].startswith("✅ ")

    async def pick(label: str) -> None:
        """Tap the first button labelled exactly `label` (or containing it, if none is)."""
        labels = [(text, data) for row in buttons(listing) for text, data in row]
        exact = [data for text, data in labels if text == label]
        await herald.tap(ADMIN_ID, listing, exact[0] if exact else button_data(listing, label))

    await pick("Filters")
    assert listing["text"].startswith("History filters: tap to change, then Done.")
    await pick("Individual")
    assert listing["text"].splitlines()[1] == "Type: Individual · To: All"
    await pick("Done")
    assert _ids(listing) == [f"#{ids['individual']}"]
    await pick("Filters")
    await pick("All")
    await pick("3-й поток")
    await pick("Done")
    assert _ids(listing) == [f"#{ids['group']}"]
    await pick("Filters")
    await pick("Mixed")
    await pick("Done")
    assert listing["text"].endswith("No messages match these filters.")
    await pick("Filters")
    await pick("4-й поток")
    assert listing["text"].splitlines()[1] == "Type: Mixed · To: 4-й поток"
    await pick("Done")
    assert _ids(listing) == [f"#{ids['mixed']}"]
    await pick("Filters")
    await pick("Group")
    await pick("Everyone")
    await pick("Done")
    assert _ids(listing) == [f"#{ids['everyone']}"]
    await pick("Filters")
    await pick("No stream")
    await pick("Done")
    assert _ids(listing) == [f"#{ids['scheduled']}"]
    await pick("Filters")
    await pick("All")
    await pick("All")
    await pick("With failures")
    assert listing["text"].splitlines()[1] == "Type: All · To: All · with failures only"
    await pick("Done")
    assert _ids(listing) == [f"#{ids['group']}"]

    third = frozenset({herald.stream_id("3rd_stream")})
    for n in range(9):
        await _send(herald, f"Extra {n}", Selection(third))
    filtered = HistoryCb(HistoryAction.LIST, HistoryKind.GROUP, HistoryTarget.STREAM, min(third))
    await herald.tap(ADMIN_ID, listing, filtered.pack())
    assert listing["text"].startswith("History: 10\nType: Group · To: 3-й поток")
    assert len(_entries(listing)) == 8
    await herald.tap(ADMIN_ID, listing, button_data(listing, "▶"))
    assert _ids(listing) == [f"#{ids['scheduled'] + 1}", f"#{ids['group']}"]
    assert listing["text"].splitlines()[1] == "Type: Group · To: 3-й поток"
    assert "2/2" in [label for row in buttons(listing) for label, _ in row]
    await pick("Menu")
    assert listing["text"].startswith("Herald")


async def test_card_preview_not_reached_export_and_retry(herald: Harness) -> None:
    ids = await _world(herald)
    listing = await herald.say(ADMIN_ID, "/history")
    sent_before = herald.count(ADMIN_ID)
    await herald.tap(ADMIN_ID, listing, button_data(listing, f"#{ids['group']} "))
    card = listing
    lines = card["text"].splitlines()
    assert lines[0] == f"Message #{ids['group']} · sent"
    assert lines[1:4] == [
        "«To the third stream»",
        "From: P1000",
        "To: 3-й поток (group), 10 recipients",
    ]
    assert lines[4].startswith("Created: ") and lines[6].startswith("Started: ")
    assert lines[-1] == (
        "Delivered 8 · Failed 1 · Blocked 1 · Unconfirmed 0 · Cancelled 0 · Waiting 0"
    )
    labels = [label for row in buttons(card) for label, _ in row]
    assert labels == [
        "👁 Preview",
        "✏️ Edit for everyone",
        "🗑 Delete for everyone",
        "📌 Pin for everyone",
        "📋 Not reached",
        "🔁 Retry failed",
        "♻️ Use as new draft",
        "📄 Export CSV",
        "⬅️ History",
        "⬅️ Menu",
    ]
    await herald.tap(ADMIN_ID, card, button_data(card, "Preview"))
    assert herald.last(ADMIN_ID)["text"] == "To the third stream"

    await herald.tap(ADMIN_ID, card, button_data(card, "Not reached"))
    assert card["text"].splitlines()[1:] == [
        "Not reached: 2",
        "• Student3002 @s3002 (3002) — Telegram does not know this chat (they never started "
        "the bot)",
        "• Student3003 @s3003 (3003) — blocked the bot",
    ]
    await herald.tap(ADMIN_ID, card, button_data(card, "Message card"))
    assert card["text"].splitlines()[0] == f"Message #{ids['group']} · sent"

    await herald.tap(ADMIN_ID, card, button_data(card, "Export CSV"))
    document = herald.last(ADMIN_ID)
    assert document["document"]["file_name"] == f"message-{ids['group']}.csv"
    assert document["caption"] == f"Message #{ids['group']}: 10 recipients"
    content = herald.emulator.files[document["document"]["file_id"]].decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert [r["user_id"] for r in rows] == [str(i) for i in THIRD]
    assert rows[1] == {
        "user_id": "3002",
        "username": "s3002",
        "first_name": "Student3002",
        "last_name": "",
        "status": "failed",
        "telegram_message_id": "",
        "sent_at": "",
        "error": "Chat not found",
    }
    assert rows[0]["status"] == "sent" and rows[0]["telegram_message_id"].isdigit()
    assert datetime.fromisoformat(rows[0]["sent_at"]).tzinfo is not None

    await herald.tap(ADMIN_ID, card, button_data(card, "Retry failed"))
    await herald.deliveries_done()
    async with herald.sessions() as session:
        message = await session.get(MessageHistory, ids["group"])
    assert message is not None and (message.delivered, message.failed) == (9, 0)
    assert card["text"].splitlines()[:3] == [
        f"#{ids['group']} · «To the third stream» → 3-й поток · retry",
        "✅ Delivery finished",
        "Delivered: 9 of 10",
    ]
    assert herald.count(ADMIN_ID) == sent_before + 2, "only the preview and the CSV were new"


async def test_use_as_new_draft(herald: Harness) -> None:
    ids = await _world(herald)
    listing = await herald.say(ADMIN_ID, "/history")
    await herald.tap(ADMIN_ID, listing, button_data(listing, f"#{ids['mixed']} "))
    await herald.tap(ADMIN_ID, listing, button_data(listing, "Use as new draft"))
    preview, summary = herald.emulator.bot_messages(ADMIN_ID)[-2:]
    assert preview["text"] == "Fourth and one more"
    assert summary["text"] == (
        "Review (4/4): 5 people will get it\n• 4-й поток: 4\n• Hand-picked: 1\n"
        "Blocked the bot, left out: 1 person"
    )
    for label in ("Send now", "Yes, send"):
        menu = (
            herald.last(ADMIN_ID)
            if label == "Send now"
            else herald.emulator.find_message(ADMIN_ID, summary["message_id"])
        )
        assert menu is not None
        await herald.tap(ADMIN_ID, menu, button_data(menu, label))
    await herald.deliveries_done()
    async with herald.sessions() as session:
        newest = (
            await session.scalars(select(MessageHistory).order_by(MessageHistory.id.desc()))
        ).first()
    assert newest is not None and newest.id > ids["scheduled"]
    assert newest.selection == {
        "streams": [herald.stream_id("4th_stream")],
        "no_stream": False,
        "everyone": False,
        "users": [3001],
    }


async def test_stats_agree_with_the_database(herald: Harness) -> None:
    ids = await _world(herald)
    async with herald.sessions() as session:
        await session.execute(
            update(MessageHistory)
            .where(MessageHistory.id == ids["individual"])
            .values(started_at=datetime.now(UTC) - timedelta(days=40))
        )
        await session.commit()
    reply = await herald.say(ADMIN_ID, "/stats")
    text = reply["text"]
    assert text.startswith("Statistics · 7 days\n\nAudience\nRegistered: 17\n")
    assert "Blocked the bot: 2\nIn no stream: 2\nNew in the period: 17" in text
    assert "• 3-й поток: 10\n• 4-й поток: 5" in text
    assert "Messages sent: 3\nRecipients: 30\nDelivered: 28 (93.3%)" in text
    assert "Failed: 1 · Blocked during sends: 1 · Unconfirmed: 0 · Cancelled: 0" in text
    assert "Scheduled, upcoming: 1" in text
    assert (
        "Not reached, by reason\n"
        "• blocked the bot: 1\n"
        "• Telegram does not know this chat (they never started the bot): 1"
    ) in text
    assert "Delivery by stream\n• 3-й поток: 8/10 (80.0%)\n• 4-й поток: 5/5 (100.0%)" in text

    await herald.tap(ADMIN_ID, reply, StatsCb(Period.ALL).pack())
    assert reply["text"].startswith("Statistics · all time")
    assert "Messages sent: 4\nRecipients: 31\nDelivered: 29 (93.5%)" in reply["text"]
    assert [label for row in buttons(reply) for label, _ in row] == [
        "7 days",
        "30 days",
        "✅ all time",
        "⬅️ Menu",
    ]

    async with herald.sessions() as session:
        sent = await session.scalar(
            select(func.count())
            .select_from(MessageRecipient)
            .where(MessageRecipient.status == "sent")
        )
    assert sent == 29


async def test_audit_is_paged_and_filtered_by_admin(herald: Harness) -> None:
    herald.emulator.add_user(OTHER_ADMIN_ID, first_name="Second")
    await herald.say(OTHER_ADMIN_ID, "/timezone Europe/Berlin")
    await herald.say(STUDENT_ID, "/stats")
    await herald.say(ADMIN_ID, "/start")
    for zone in ("Asia/Almaty", "Europe/Paris") * 6:
        await herald.say(ADMIN_ID, f"/timezone {zone}")
    listing = await herald.say(ADMIN_ID, "/audit")
    lines = listing["text"].splitlines()
    assert lines[0] == "Audit log · All: 14"
    assert lines[1].endswith(" · P1000 · set time zone: Europe/Paris")
    assert len(lines) == 11
    await herald.tap(ADMIN_ID, listing, button_data(listing, "▶"))
    lines = listing["text"].splitlines()
    assert lines[-2].endswith(" · P2000 · refused (not an admin): /stats")
    assert lines[-1].endswith(" · Second · set time zone: Europe/Berlin")
    await herald.tap(ADMIN_ID, listing, AuditCb(OTHER_ADMIN_ID).pack())
    assert listing["text"].splitlines()[0] == "Audit log · Second: 1"


@pytest.mark.parametrize(
    "data",
    [
        MenuCb(MenuAction.HISTORY),
        MenuCb(MenuAction.STATS),
        MenuCb(MenuAction.AUDIT),
        MenuCb(MenuAction.SCHEDULED),
        HistoryCb(HistoryAction.LIST, HistoryKind.MIXED, HistoryTarget.EVERYONE, page=2),
        HistoryCb(HistoryAction.CARD, message_id=1),
        HistoryCb(HistoryAction.EXPORT, message_id=1),
        HistoryCb(HistoryAction.DRAFT, message_id=1),
        StatsCb(Period.ALL),
        AuditCb(ADMIN_ID, 1),
        QueueCb(QueueAction.CANCEL_OK, 1),
        QueueCb(QueueAction.RESCHEDULE, 1),
        DeliveryCb(DeliveryAction.RETRY, 1),
        DeliveryCb(DeliveryAction.STOP, 1),
        ComposeCb("abcdef", ComposeAction.CONFIRM),
    ],
)
async def test_every_admin_button_refused_to_students(
    herald: Harness,
    data: MenuCb | HistoryCb | StatsCb | AuditCb | QueueCb | DeliveryCb | ComposeCb,
) -> None:
    await _send_one(herald)
    reply = await herald.say(STUDENT_ID, "/start")
    before = len(herald.emulator.bot_messages(STUDENT_ID))
    await herald.tap(STUDENT_ID, reply, data.pack())
    assert herald.emulator.callback_answers[-1]["text"] == "Administrators only."
    assert len(herald.emulator.bot_messages(STUDENT_ID)) == before
    async with herald.sessions() as session:
        denied = (
            await session.scalars(select(AuditLog.target).where(AuditLog.action == "denied"))
        ).all()
        message = await session.get(MessageHistory, 1)
    assert denied == [f"button {data.pack()}"]
    assert message is not None and message.status.value == "done"


async def _send_one(herald: Harness) -> None:
    await herald.enroll(THIRD[:2], "3rd_stream")
    await _send(herald, "One", Selection(everyone=True))


SECTIONS = ["/scheduled", "/history", "/stats", "/audit", "/users", "/streams", "/inbox"]


async def test_every_section_has_the_way_back_to_the_menu_even_when_empty(
    db_url: str, emulator: Emulator
) -> None:
    """A fresh bot: nothing scheduled, sent, audited, registered or written in; each section
    screen still ends with ⬅️ Menu, and that button opens the menu."""
    config = make_config(db_url, bot={"replies": "forward"}, streams=[])
    await _each_ends_with_menu(config, emulator, SECTIONS)
    # With replies off, /inbox says so, and still leads back.
    await _each_ends_with_menu(make_config(db_url), emulator, ["/inbox"])


async def _each_ends_with_menu(config: Config, emulator: Emulator, commands: list[str]) -> None:
    async with running(config, emulator) as herald:
        for command in commands:
            screen = await herald.say(ADMIN_ID, command)
            rows = buttons(screen)
            assert rows, f"{command}: no button at all on {screen['text']!r}"
            label, data = rows[-1][-1]
            assert label == "⬅️ Menu", f"{command}: {rows}"
            await herald.tap(ADMIN_ID, screen, data)
            assert herald.current(screen)["text"].startswith("Herald"), command


EXAM = {
    "en": "Exam moved to Friday: room 204, bring your student card and a pen",
    "ru": "Экзамен перенесён на пятницу: аудитория 204, возьмите студенческий билет и ручку",
}
SCREEN = {
    "en": [
        "History: 3",
        "Type: All · To: All",
        "✅ #3 «[document]»",
        "✅ #2 «Hi {first_name}, <b>see</b> you & bye»",
        "✅ #1 «Exam moved to Friday: room 204, bring your…»",
        "Tap a message to open it. ⚠️: someone was not reached.",
    ],
    "ru": [
        "История: 3",
        "Тип: Любые · Кому: Все",
        "✅ №3 «[документ]»",
        "✅ №2 «Hi {first_name}, <b>see</b> you & bye»",
        "✅ №1 «Экзамен перенесён на пятницу: аудитория 204…»",
        "Нажмите на сообщение, чтобы открыть его. ⚠️ — дошло не до всех.",
    ],
}


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_the_list_says_what_each_message_was(
    db_url: str, emulator: Emulator, language: str
) -> None:
    """/history as the admin reads it: each message's first words on the screen (cut after a
    word, placeholders as written, markup shown as text), the buttons as they were."""
    sent_at = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    config = make_config(db_url, bot={"language": language})
    async with running(config, emulator, clock=lambda: sent_at) as herald:
        await herald.enroll(THIRD[:3], "3rd_stream")
        third = Selection(frozenset({herald.stream_id("3rd_stream")}))
        await _send(herald, EXAM[language], third)
        await _send(herald, "Hi {first_name}, <b>see</b> you & bye", third)
        broadcaster = herald.app.bot_data.services.broadcaster
        document = Content(MessageKind.DOCUMENT, "", file_id="DOC-1")
        message = await broadcaster.submit(ADMIN_ID, document, third)
        broadcaster.start(message, ADMIN_ID, None)
        await herald.deliveries_done()
        listing = await herald.say(ADMIN_ID, "/history")
    assert listing["text"].splitlines() == SCREEN[language]
    when = "3 дек. 09:30" if language == "ru" else "3 Dec 09:30"
    number = "№" if language == "ru" else "#"
    assert [label for row in buttons(listing) for label, _ in row][:3] == [
        f"✅ {number}{n} · {when} · 3-й поток · 3/3" for n in (3, 2, 1)
    ]
    bold = [e for e in listing.get("entities", []) if e["type"] == "bold"]
    assert len(bold) == 4, "the title and each message's number are bold, nothing else"
