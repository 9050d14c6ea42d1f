"""Students answer, admins reply: a student's message reaches the course team as a copy with a
header, and an admin's reply goes back as the bot, recorded like any other message."""

from __future__ import annotations

import enum
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import Forbidden, TelegramError

from bot.delivery.content import Content, make_sender, stored
from db.models import (
    AuditAction,
    DeliveryStatus,
    InboxMessage,
    MessageRecipient,
    MessageStatus,
    RecipientType,
)
from db.repo import audience, audit, inbox, messages, users
from db.repo.audience import Selection
from db.repo.audit import Target

log = logging.getLogger(__name__)

WINDOW = 60.0


class Verdict(enum.Enum):
    PASS = "pass"
    WARN = "warn"  # over the limit: one note to the student
    DROP = "drop"  # still over it: nothing more


class Flood:
    """At most `limit` messages a minute from one student reach the admins (per process)."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._seen: dict[int, deque[float]] = {}
        self._warned: set[int] = set()

    def admit(self, user_id: int) -> Verdict:
        now = self._clock()
        seen = self._seen.setdefault(user_id, deque())
        while seen and seen[0] <= now - WINDOW:
            seen.popleft()
        if len(seen) < self._limit:
            seen.append(now)
            self._warned.discard(user_id)
            return Verdict.PASS
        if user_id in self._warned:
            return Verdict.DROP
        self._warned.add(user_id)
        return Verdict.WARN


KINDS = (
    "photo",
    "video",
    "document",
    "animation",
    "audio",
    "voice",
    "video_note",
    "sticker",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
)
"""What a student can send that Telegram lets a bot copy; anything else (a service message:
a pin, a timer) is not a message to the team."""


def kind_of(message: Message) -> str | None:
    """What a student sent, in one word (for /inbox lines); None for nothing to pass on."""
    if message.text:
        return "text"
    return next((kind for kind in KINDS if getattr(message, kind, None)), None)


async def received(
    sessions: async_sessionmaker[AsyncSession], message: Message, user_id: int, now: datetime
) -> tuple[InboxMessage, bool]:
    """Store a student's message; also whether it opens a new thread (nothing open before)."""
    async with sessions.begin() as session:
        answers = None
        if message.reply_to_message is not None:
            replied = message.reply_to_message.message_id
            answers = await inbox.answered_broadcast(session, user_id, replied)
        first = not await inbox.has_open(session, user_id)
        stored = await inbox.add(
            session,
            InboxMessage(
                user_id=user_id,
                telegram_message_id=message.message_id,
                kind=kind_of(message) or "text",
                text=(message.text or message.caption or "")[:4096],
                answers_message_id=answers,
                received_at=now,
            ),
        )
    return stored, first


@dataclass(frozen=True)
class Replied:
    outcome: DeliveryStatus  # sent, blocked or failed
    message_id: int  # the reply's row in the history
    error: str | None = None


async def reply(
    bot: Bot,
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    admin_id: int,
    student_id: int,
    content: Content,
    answers_id: int | None,
    close: bool,
) -> Replied:
    """Send `content` to the student as the bot, and record it as an individual message that
    answers `answers_id`; the student's messages count as answered (and close, with `close`)."""
    status, telegram_id, error = DeliveryStatus.SENT, None, None
    try:
        telegram_id = await make_sender(bot, content)(student_id)
    except Forbidden as exc:
        status, error = DeliveryStatus.BLOCKED, exc.message
    except TelegramError as exc:
        status, error = DeliveryStatus.FAILED, exc.message
    sent = status is DeliveryStatus.SENT
    selection = Selection(user_ids=frozenset({student_id}))
    async with sessions.begin() as session:
        row = await messages.create(
            session,
            stored(
                content,
                admin_id,
                selection.to_json(),
                recipient_type=RecipientType.INDIVIDUAL,
                recipient_group=await audience.recipient_group(session, selection),
                status=MessageStatus.DONE if sent else MessageStatus.FAILED,
                created_at=now,
                started_at=now,
                finished_at=now,
                total=1,
                delivered=int(sent),
                failed=int(status is DeliveryStatus.FAILED),
                blocked=int(status is DeliveryStatus.BLOCKED),
                answers_id=answers_id,
            ),
        )
        await messages.add_targets(session, row.id, selection.targets())
        session.add(
            MessageRecipient(
                message_id=row.id,
                user_id=student_id,
                status=status,
                telegram_message_id=telegram_id,
                error=error[:512] if error else None,
                attempts=1,
                sent_at=now if telegram_id is not None else None,
            )
        )
        if status is DeliveryStatus.BLOCKED:
            await users.mark_blocked(session, [student_id], now)
        if sent:
            await inbox.mark_answered(session, student_id, now)
            if close:
                await inbox.close(session, student_id, admin_id, now, answered=True)
        await audit.record(
            session,
            admin_id,
            AuditAction.REPLY,
            now,
            target=Target(user=student_id),
            details={"message": row.id, "outcome": status.value},
        )
    return Replied(status, row.id, error)


async def forward(
    bot: Bot,
    sessions: async_sessionmaker[AsyncSession],
    stored: InboxMessage,
    admins: tuple[int, ...],
    header: Callable[[int], tuple[str, InlineKeyboardMarkup]],
) -> int:
    """Show the student's message to each admin: a header with its buttons, then a copy of the
    message as a reply to it. Returns how many admins got it."""
    reached = 0
    for admin_id in admins:
        text, markup = header(admin_id)
        try:
            top = await bot.send_message(admin_id, text, reply_markup=markup)
            copy = await bot.copy_message(
                admin_id,
                stored.user_id,
                stored.telegram_message_id,
                reply_to_message_id=top.message_id,
            )
        except TelegramError as exc:
            log.warning("could not show message %s to admin %s: %s", stored.id, admin_id, exc)
            continue
        reached += 1
        async with sessions.begin() as session:
            await inbox.add_copies(session, stored.id, admin_id, [top.message_id, copy.message_id])
    return reached


async def mark_done(
    sessions: async_sessionmaker[AsyncSession], student_id: int, admin_id: int, now: datetime
) -> int:
    async with sessions.begin() as session:
        closed = await inbox.close(session, student_id, admin_id, now, answered=False)
        if closed:
            await audit.record(
                session,
                admin_id,
                AuditAction.INBOX_DONE,
                now,
                target=Target(user=student_id),
                details={"messages": closed},
            )
    return closed
