"""Runs the real Herald application against the emulator and acts as admins and students."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update

from bot.app import build_application
from bot.config import Config, parse_config
from bot.context import HeraldApp, HeraldContext
from bot.delivery.policy import Policy
from bot.texts import CATALOGS
from db.models import MessageHistory, MessageStatus
from db.repo.streams import with_counts as stream_counts
from tests.emulator import Emulator, emulator_request

ADMIN_ID = 1000
OTHER_ADMIN_ID = 1001
STUDENT_ID = 2000
EVERYONE = "✏️ Edit · delete · pin for all"
"""The report's way to a sent message's edit, delete and pin for everyone."""

JSON = dict[str, Any]


def database_url(db: str | Path) -> str:
    """A SQLAlchemy URL as given, or the URL of an SQLite file."""
    return db if isinstance(db, str) else f"sqlite+aiosqlite:///{db}"


def make_config(db: str | Path, **sections: dict[str, Any] | list[Any]) -> Config:
    """A valid config on a database; keyword sections override or extend the defaults."""
    data: dict[str, Any] = {
        "telegram": {"token": Emulator.token},
        "bot": {"admins": [ADMIN_ID, OTHER_ADMIN_ID], "language": "en", "timezone": "UTC"},
        "database": {"url": database_url(db)},
        "streams": [
            {"code": "3rd_stream", "title": "3-й поток"},
            {"code": "4th_stream", "title": "4-й поток"},
        ],
    }
    for name, values in sections.items():
        base = data.get(name)
        if isinstance(base, dict) and isinstance(values, dict):
            data[name] = {**base, **values}
        else:
            data[name] = values
    return parse_config(data, env={})


@dataclass
class Harness:
    """One running application; `errors` collects every exception a handler raised."""

    app: HeraldApp
    emulator: Emulator
    errors: list[BaseException] = field(default_factory=list)
    stream_ids: dict[str, int] = field(default_factory=dict)

    async def feed(self, update: JSON, settle: bool = True) -> None:
        """Process one update; with `settle`, also wait for background work it started."""
        self.emulator.updates.remove(update)
        background = self.app.bot_data.services.background
        earlier = set(background)
        await self.app.process_update(Update.de_json(update, self.app.bot))
        started = background - earlier
        if settle and started:
            await asyncio.wait(started)

    async def background_done(self) -> None:
        background = self.app.bot_data.services.background
        while background:
            await asyncio.wait(list(background))

    async def say(self, user_id: int, text: str | None = None, **extra: Any) -> JSON:
        """A person sends a message; returns the bot's last message to them afterwards."""
        await self.feed(self.emulator.user_message(user_id, text, **extra))
        return self.emulator.last_bot_message(user_id)

    async def tap(self, user_id: int, message: JSON, data: str) -> None:
        await self.feed(self.emulator.callback(user_id, message["message_id"], data))

    def last(self, user_id: int) -> JSON:
        return self.emulator.last_bot_message(user_id)

    def menu(self, user_id: int = ADMIN_ID) -> JSON:
        """The newest message with buttons that the bot sent to `user_id`."""
        for message in reversed(self.emulator.bot_messages(user_id)):
            if message.get("reply_markup"):
                return message
        raise AssertionError(f"no message with buttons for {user_id}")

    async def press(self, label_part: str, user_id: int = ADMIN_ID) -> JSON:
        """Tap the button containing `label_part` on the newest menu; returns that menu."""
        menu = self.menu(user_id)
        await self.tap(user_id, menu, button_data(menu, label_part))
        return menu

    def current(self, message: JSON, user_id: int = ADMIN_ID) -> JSON:
        """`message` as the chat shows it now, after any edits."""
        found = self.emulator.find_message(user_id, message["message_id"])
        assert found is not None, f"message {message['message_id']} is gone"
        return found

    def count(self, user_id: int) -> int:
        """How many messages the bot has sent to `user_id` so far."""
        return len(self.emulator.bot_messages(user_id))

    def texts_to(self, user_id: int) -> list[str]:
        return self.emulator.texts_to(user_id)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.app.bot_data.services.sessions

    async def enroll(
        self, user_ids: Sequence[int], code: str | None = None, name: str = "Student"
    ) -> None:
        """People open the bot (through a stream's invite link when `code` is given)."""
        for user_id in user_ids:
            if user_id not in self.emulator.users:
                self.emulator.add_user(
                    user_id, first_name=f"{name}{user_id}", username=f"s{user_id}"
                )
            await self.say(user_id, f"/start {code}" if code else "/start")

    async def deliveries_done(self) -> None:
        """Wait until every running delivery has finished and written its report."""
        broadcaster = self.app.bot_data.services.broadcaster
        while broadcaster.runs:
            for message_id in list(broadcaster.runs):
                await broadcaster.wait(message_id)

    async def until_sent(self, within: float = 30.0) -> None:
        """Wait until no message is being sent (a resume may first wait out a dead lease)."""
        for _ in range(int(within / 0.05)):
            async with self.sessions() as session:
                sending = await session.scalar(
                    select(func.count()).where(MessageHistory.status == MessageStatus.SENDING)
                )
            if not sending and not self.app.bot_data.services.broadcaster.runs:
                return
            await self.deliveries_done()
            await asyncio.sleep(0.05)
        raise AssertionError(f"a delivery was still going after {within} s")

    def stream_id(self, code: str) -> int:
        return self.stream_ids[code]


def buttons(message: JSON) -> list[list[tuple[str, str]]]:
    """The inline keyboard as rows of (label, callback data or url)."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [[(b["text"], b.get("callback_data") or b.get("url", "")) for b in row] for row in rows]


COUNTS = re.compile(r"^\S+ [^:\n]+: (\d+) of (\d+)$", re.MULTILINE)
"""A progress line ("📤 Sending: 2 of 3", "📌 Pinning: 0 of 5"): what is done and the total."""


PREPARING = CATALOGS["en"].progress_preparing


def frames(message: JSON) -> list[str]:
    """Every text `message` has shown in the chat, first to last (the emulator keeps them)."""
    return [*message.get("_shown", [message.get("text", "")])]


def progress_totals(message: JSON) -> list[tuple[int, int]]:
    """(done, total) of each progress frame `message` has shown, in order; a frame that had
    no total yet ("Preparing…") counts as (0, 0)."""
    totals = []
    for text in frames(message):
        if PREPARING in text:
            totals.append((0, 0))
        elif found := COUNTS.search(text):
            totals.append((int(found[1]), int(found[2])))
    return totals


PHOTO: list[JSON] = [
    {"file_id": "small", "file_unique_id": "s1", "width": 90, "height": 90},
    {"file_id": "PHOTO-BIG", "file_unique_id": "b1", "width": 1280, "height": 960},
]
STICKER: JSON = {
    "file_id": "STK",
    "file_unique_id": "stk",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}


def button_data(message: JSON, label_part: str) -> str:
    """The callback data of the one button whose label contains `label_part`."""
    found = [data for row in buttons(message) for label, data in row if label_part in label]
    assert len(found) == 1, f"{label_part!r} in {buttons(message)}"
    return found[0]


def row_button(message: JSON, row_part: str, label_part: str) -> str:
    """The callback data of the button `label_part` in the one row that mentions `row_part`."""
    rows = [row for row in buttons(message) if any(row_part in label for label, _ in row)]
    assert len(rows) == 1, f"{row_part!r} in {buttons(message)}"
    found = [data for label, data in rows[0] if label_part in label]
    assert len(found) == 1, f"{label_part!r} in {rows[0]}"
    return found[0]


TEST_LEASE = 2.0
"""Seconds of every lease in tests (5 in production): a dead process's work is taken over
sooner, and nothing a test checks depends on the length."""


FAST_POLICY = Policy(concurrency=4, backoff=0.01, flush_interval=0.05, lease=TEST_LEASE)


@asynccontextmanager
async def running(
    config: Config,
    emulator: Emulator,
    people: Sequence[int] = (ADMIN_ID, STUDENT_ID),
    *,
    expect_errors: bool = False,
    **options: Any,
) -> AsyncIterator[Harness]:
    """A running application with error recording, and the stream ids by code.

    On the way out it fails the test if a handler raised or an admin was sent the error notice
    (the last resort), unless `expect_errors`; and if the emulator saw double-escaped text.
    """
    for person in people:
        if person not in emulator.users:
            emulator.add_user(
                person,
                first_name=f"P{person}",
                username=f"user{person}",
                language_code=config.bot.language,
            )
    options.setdefault("progress_interval", 0.05)
    options.setdefault("policy", FAST_POLICY)
    app = build_application(config, request=emulator_request(emulator), **options)
    harness = Harness(app=app, emulator=emulator)

    async def record(update: object, context: HeraldContext) -> None:
        assert context.error is not None
        harness.errors.append(context.error)

    app.add_error_handler(record)
    async with lifecycle(app):
        async with app.bot_data.services.sessions() as session:
            for item in await stream_counts(session, include_archived=True):
                harness.stream_ids[item.stream.code] = item.stream.id
        yield harness
    assert emulator.problems == [], f"text shown with HTML escapes: {emulator.problems}"
    assert emulator.unanswered == [], f"button taps never answered: {emulator.unanswered}"
    if expect_errors:
        return
    assert harness.errors == [], f"handler errors: {harness.errors!r}"
    notices = {texts.error_notice for texts in CATALOGS.values()}
    for admin_id in config.bot.admins:
        got = notices & set(harness.texts_to(admin_id))
        assert not got, "an admin got the error notice"


@asynccontextmanager
async def lifecycle(app: HeraldApp) -> AsyncIterator[HeraldApp]:
    """Start and stop the application as `run_polling` does, hooks included, without polling."""
    await app.initialize()
    assert app.post_init is not None and app.post_stop is not None
    assert app.post_shutdown is not None
    await app.post_init(app)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
        await app.post_stop(app)
        await app.shutdown()
        await app.post_shutdown(app)


ROOT = Path(__file__).resolve().parent.parent


def write_config(
    path: Path, base_url: str, db: str | Path, extra: str = "", lease: float = TEST_LEASE
) -> Path:
    """A config file for a bot process talking to an emulator served at `base_url`."""
    path.write_text(
        f"""
[telegram]
base_url = "{base_url}"

[bot]
admins = [{ADMIN_ID}]
language = "en"
timezone = "UTC"

[database]
url = "{database_url(db)}"
lease_seconds = {lease}

[[streams]]
code = "3rd_stream"
title = "3-й поток"
{extra}""",
        encoding="utf-8",
    )
    return path


async def bot_process(config: Path, token: str) -> asyncio.subprocess.Process:
    """Run `python -m bot --config ...` as a separate process, output piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        cwd=str(ROOT),
        env={"HERALD_BOT_TOKEN": token, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def until(predicate: Callable[[], object], within: float = 60.0) -> None:
    """Wait for something a separate process does (it cannot be awaited directly)."""
    for _ in range(int(within / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("did not get there in time")


async def start_through_process(emulator: Emulator, people: Sequence[int], text: str) -> None:
    """People send `text` (/start, with a stream code) to a bot process and get its welcome.
    The emulator answers at once meanwhile: its latency is for the sends a test watches."""
    latency, emulator.latency = emulator.latency, 0.0
    try:
        for uid in people:
            emulator.user_message(uid, text)
        await until(lambda: all(emulator.bot_messages(uid) for uid in people))
    finally:
        emulator.latency = latency


async def send_through_process(emulator: Emulator, text: str, people: int) -> None:
    """Act as the admin of a bot process: /send, `text`, Skip, 3rd stream, Done, Send, Yes."""

    def newest_menu() -> JSON | None:
        menus = [m for m in emulator.bot_messages(ADMIN_ID) if m.get("reply_markup")]
        return menus[-1] if menus else None

    async def tap(label: str, then: Callable[[JSON], bool]) -> None:
        menu = newest_menu()
        assert menu is not None
        emulator.callback(ADMIN_ID, menu["message_id"], button_data(menu, label))
        await until(lambda: (m := newest_menu()) is not None and then(m))

    latency, emulator.latency = emulator.latency, 0.0  # the composing is not what is watched
    try:
        emulator.user_message(ADMIN_ID, "/send")
        await until(lambda: len(emulator.bot_messages(ADMIN_ID)) >= 1)
        emulator.user_message(ADMIN_ID, text)
        await until(lambda: emulator.last_bot_message(ADMIN_ID)["text"].startswith("Buttons"))
        await tap("Skip", lambda m: m["text"].startswith("Recipients"))
        await tap("3-й поток", lambda m: f"{people} people selected" in m["text"])
        await tap("Done", lambda m: m["text"].startswith("Review"))
        await tap("Send now", lambda m: m["text"].endswith(f"Send to {people} people?"))
    finally:
        emulator.latency = latency
    await tap("Yes, send", lambda m: not m["text"].endswith("?"))
