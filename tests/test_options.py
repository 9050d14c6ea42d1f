"""Silent, protected and link-preview options: toggled on the review, shown in the summary and
on the history card, kept with scheduled messages and drafts, and sent to every student."""

from __future__ import annotations

from sqlalchemy import select

from db.models import MessageHistory
from tests.harness import ADMIN_ID, JSON, Harness, button_data, buttons

TEXT = "Reading list: https://example.org/list"
PEOPLE = [3001, 3002]


async def _review(herald: Harness) -> JSON:
    await herald.enroll(PEOPLE, "3rd_stream")
    await herald.say(ADMIN_ID, "/send")
    await herald.say(ADMIN_ID, TEXT)
    await herald.press("Skip")
    await herald.press("3-й поток")
    return await herald.press("Done")


def _toggles(message: JSON) -> list[str]:
    return [label for label, _ in buttons(message)[-2]]


async def test_options_are_toggled_on_the_review_and_reach_every_student(
    herald: Harness,
) -> None:
    await _review(herald)
    summary = herald.last(ADMIN_ID)
    assert _toggles(summary) == ["🔕 Silent", "🔒 No forwarding", "✅ 🔗 Link preview"]
    assert "Options:" not in summary["text"]
    previews = len(herald.emulator.bot_messages(ADMIN_ID))
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Silent"))
    await herald.tap(ADMIN_ID, summary, button_data(summary, "No forwarding"))
    assert summary["text"].endswith("Options: silent · no forwarding or saving")
    assert _toggles(summary) == ["✅ 🔕 Silent", "✅ 🔒 No forwarding", "✅ 🔗 Link preview"]
    assert len(herald.emulator.bot_messages(ADMIN_ID)) == previews, "redrawn in place"
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Link preview"))
    preview, summary = herald.emulator.bot_messages(ADMIN_ID)[-2:]
    assert preview["text"] == TEXT
    assert preview["link_preview_options"] == {"is_disabled": True}
    assert summary["text"].endswith("Options: silent · no forwarding or saving · no link preview")
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Send now"))
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Yes, send"))
    await herald.deliveries_done()
    for uid in PEOPLE:
        got = herald.emulator.last_bot_message(uid)
        assert got["text"] == TEXT
        assert got["has_protected_content"] is True
        assert got["_silent"] is True
        assert got["link_preview_options"] == {"is_disabled": True}
    async with herald.sessions() as session:
        stored = (await session.scalars(select(MessageHistory))).one()
    assert (stored.silent, stored.protected, stored.link_preview) == (True, True, False)
    listing = await herald.say(ADMIN_ID, "/history")
    await herald.tap(ADMIN_ID, listing, button_data(listing, "#1"))
    assert "Options: silent · no forwarding or saving · no link preview" in listing["text"]


async def test_a_plain_send_carries_no_option(herald: Harness) -> None:
    summary = await _review(herald)
    summary = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Send now"))
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Yes, send"))
    await herald.deliveries_done()
    got = herald.emulator.last_bot_message(PEOPLE[0])
    assert "has_protected_content" not in got and "_silent" not in got
    assert "link_preview_options" not in got


async def test_options_are_kept_by_a_scheduled_message(herald: Harness) -> None:
    await _review(herald)
    summary = herald.last(ADMIN_ID)
    await herald.tap(ADMIN_ID, summary, button_data(summary, "Silent"))
    await herald.press("Schedule")
    await herald.say(ADMIN_ID, "+1m")
    await herald.press("✅ Schedule")
    async with herald.sessions() as session:
        stored = (await session.scalars(select(MessageHistory))).one()
    assert (stored.silent, stored.protected, stored.link_preview) == (True, False, True)
