"""Each admin reads Herald in their own language; a draft lost in a restart is owned up to;
time zones by city."""

from __future__ import annotations

import pytest
import pytz
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.callbacks import LanguageCb
from bot.scheduling.zones import find_zone, zones_named
from db.models import AdminSetting, AuditLog
from tests.emulator import Emulator
from tests.harness import (
    ADMIN_ID,
    OTHER_ADMIN_ID,
    Harness,
    button_data,
    buttons,
    make_config,
    running,
)


async def _chosen(herald: Harness, admin_id: int) -> str | None:
    async with herald.sessions() as session:
        setting = await session.get(AdminSetting, admin_id)
    return setting.language if setting is not None else None


async def test_each_admin_reads_their_own_language(db_url: str, emulator: Emulator) -> None:
    """The bot's language is Russian; one admin's Telegram app is English, the other's
    Russian. Each sees their own, /language overrides it, and "as my app" goes back."""
    emulator.add_user(ADMIN_ID, first_name="Anna", language_code="en-GB")
    emulator.add_user(OTHER_ADMIN_ID, first_name="Oleg", language_code="ru")
    config = make_config(db_url, bot={"language": "ru"})
    async with running(config, emulator) as herald:
        english = await herald.say(ADMIN_ID, "/start")
        russian = await herald.say(OTHER_ADMIN_ID, "/start")
        assert english["text"] == "Herald: what would you like to do?"
        assert russian["text"] == "Herald: что сделать?"

        screen = await herald.say(ADMIN_ID, "/language")
        assert screen["text"].startswith("Language: English (as your Telegram app).")
        assert [label for label, _ in buttons(screen)[0]] == ["English", "Русский"]
        await herald.tap(ADMIN_ID, screen, LanguageCb("ru").pack())
        assert screen["text"].startswith("Язык: Русский (ваш выбор).")
        assert buttons(screen)[0][1][0] == "✅ Русский"
        assert (await herald.say(ADMIN_ID, "/start"))["text"] == "Herald: что сделать?"
        assert await _chosen(herald, ADMIN_ID) == "ru"
        assert (await herald.say(OTHER_ADMIN_ID, "/start"))["text"] == "Herald: что сделать?"

        await herald.tap(ADMIN_ID, screen, button_data(screen, "Как в приложении"))
        assert screen["text"].startswith("Language: English (as your Telegram app).")
        assert await _chosen(herald, ADMIN_ID) is None
        await herald.tap(ADMIN_ID, screen, LanguageCb("xx").pack())
        answer = herald.emulator.callback_answers[-1]
        assert (
            answer["text"]
            == herald.app.bot_data.services.languages.texts_for(ADMIN_ID).menu_expired
        )
        async with herald.sessions() as session:
            actions = (await session.scalars(select(AuditLog.action))).all()
        assert actions == ["language", "language"]
        log = await herald.say(ADMIN_ID, "/audit")
        assert "set language: Русский" in log["text"]
        assert "set language: 📱 As my Telegram app" in log["text"]


async def test_a_chosen_language_survives_a_restart_and_reaches_the_reports(
    db_url: str, emulator: Emulator
) -> None:
    emulator.add_user(ADMIN_ID, first_name="Anna", language_code="en")
    config = make_config(db_url)
    async with running(config, emulator) as herald:
        screen = await herald.say(ADMIN_ID, "/language")
        await herald.tap(ADMIN_ID, screen, LanguageCb("ru").pack())
    async with running(config, emulator) as herald:
        await herald.enroll([3001], "3rd_stream")
        await herald.say(ADMIN_ID, "/send")
        await herald.say(ADMIN_ID, "Привет")
        await herald.press("Пропустить")
        await herald.press("3-й поток")
        await herald.press("Готово")
        await herald.press("🚀 Отправить")
        await herald.press("Да, отправить")
        await herald.deliveries_done()
        report = herald.last(ADMIN_ID)["text"]
    assert "Рассылка завершена" in report, report


async def test_a_draft_lost_in_a_restart_is_told_once(db_url: str, emulator: Emulator) -> None:
    emulator.add_user(OTHER_ADMIN_ID, first_name="Oleg")
    config = make_config(db_url)
    async with running(config, emulator) as herald:
        await herald.say(ADMIN_ID, "/send")
        await herald.say(ADMIN_ID, "Half-written announcement")
        await herald.say(OTHER_ADMIN_ID, "/send")
        await herald.say(OTHER_ADMIN_ID, "/cancel")
    async with running(config, emulator) as herald:
        first = emulator.bot_messages(ADMIN_ID)[-1]["message_id"]
        await herald.say(ADMIN_ID, "hello")
        told = [m["text"] for m in emulator.bot_messages(ADMIN_ID) if m["message_id"] > first]
        assert told[0].startswith("⚠️ Your draft from ")
        assert told[0].endswith(
            "was lost: the bot restarted since, and drafts are kept in memory only. "
            "Send /send to write it again."
        )
        await herald.say(ADMIN_ID, "hello again")
        await herald.say(OTHER_ADMIN_ID, "hello")
        later = [m["text"] for m in emulator.bot_messages(ADMIN_ID) if m["message_id"] > first]
        assert sum("was lost" in t for t in later) == 1
        assert not any("was lost" in m["text"] for m in emulator.bot_messages(OTHER_ADMIN_ID))
    async with running(config, emulator) as herald:
        await herald.say(ADMIN_ID, "/start")
        assert sum("was lost" in m["text"] for m in emulator.bot_messages(ADMIN_ID)) == 1


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Berlin", "Europe/Berlin"),
        ("berlin", "Europe/Berlin"),
        ("New York", "America/New_York"),
        ("new_york", "America/New_York"),
        ("europe/moscow", "Europe/Moscow"),
        ("Almaty", "Asia/Almaty"),
        ("Singapore", "Asia/Singapore"),
        ("jamaica", "America/Jamaica"),
        ("Kiev", "Europe/Kiev"),
        ("utc", "UTC"),
        ("Pacific", None),
        ("Asia/Singapore", "Asia/Singapore"),
        ("Singapore/Asia", None),
        ("Mars", None),
        ("Europe", None),
        ("", None),
    ],
)
def test_zones_by_city(typed: str, zone: str | None) -> None:
    assert find_zone(typed) == zone


@given(st.sampled_from(sorted(z for z in pytz.common_timezones if "/" in z)), st.booleans())
def test_a_city_finds_its_zone_in_any_case(zone: str, upper: bool) -> None:
    """Every current zone's city, typed with spaces in any case, names that zone (and only
    it, or the admin is asked which), never an old alias of it (`Jamaica`)."""
    city = zone.rsplit("/", 1)[-1].replace("_", " ")
    typed = city.upper() if upper else city.lower()
    named = zones_named(typed)
    assert zone in named
    assert find_zone(typed) == (zone if len(named) == 1 else None)


async def test_a_city_in_several_zones_asks_which(herald: Harness) -> None:
    reply = await herald.say(ADMIN_ID, "/timezone Pacific")
    assert reply["text"] == (
        "«Pacific» names several time zones: Canada/Pacific, US/Pacific. "
        "Send /timezone with one of them."
    )
