"""Sends scheduled messages on time: one JobQueue job per message, a sweep as a backstop.

The database is the source of truth; jobs are only reminders. Whoever fires first claims the
message with a conditional UPDATE, so a job, the sweep, "Send now" or a second process on the
same database never send it twice.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.error import TelegramError
from telegram.ext import CallbackContext, JobQueue

from bot.delivery.broadcaster import Broadcaster
from bot.delivery.content import Content
from bot.delivery.views import RunKind
from bot.scheduling import series
from bot.scheduling.display import when
from bot.scheduling.recurrence import Rule, next_after
from bot.texts import Texts
from bot.texts.render import html
from db.models import AuditAction, MessageHistory, MessageStatus, Series, SeriesStatus
from db.repo import admins, audit, messages
from db.repo.audience import Selection
from db.repo.audit import Target

log = logging.getLogger(__name__)

JOB_PREFIX = "dispatch:"
SWEEP_JOB = "sweep"


class Outcome(enum.Enum):
    STARTED = "started"
    NOBODY = "nobody"
    NOT_SCHEDULED = "not_scheduled"


def job_name(message_id: int) -> str:
    return f"{JOB_PREFIX}{message_id}"


class Dispatcher:
    """Plans, fires, sweeps and restores scheduled messages."""

    def __init__(
        self,
        job_queue: JobQueue[Any],
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        broadcaster: Broadcaster,
        texts_for: Callable[[int], Texts],
        clock: Callable[[], datetime],
        max_lateness: timedelta,
        default_zone: str,
        admin_ids: frozenset[int],
    ) -> None:
        self._jobs = job_queue
        self._bot = bot
        self._sessions = sessions
        self._broadcaster = broadcaster
        self._texts_for = texts_for  # notices go to admins, each in their own language
        self._clock = clock
        self._max_lateness = max_lateness
        self._default_zone = default_zone
        self._admin_ids = admin_ids

    # ----- jobs ---------------------------------------------------------------------------------

    def plan(self, message_id: int, at: datetime) -> None:
        """(Re)create the one job that fires this message at `at`."""
        self.unplan(message_id)
        self._jobs.run_once(
            self._fire,
            when=at,
            data=message_id,
            name=job_name(message_id),
            job_kwargs={"misfire_grace_time": None},
        )

    def unplan(self, message_id: int) -> None:
        for job in self._jobs.get_jobs_by_name(job_name(message_id)):
            job.schedule_removal()

    def has_job(self, message_id: int) -> bool:
        return bool(self._jobs.get_jobs_by_name(job_name(message_id)))

    def start_sweep(self, interval: float) -> None:
        self._jobs.run_repeating(self._sweep, interval=interval, first=interval, name=SWEEP_JOB)

    async def _fire(self, context: CallbackContext[Any, Any, Any, Any]) -> None:
        job = context.job
        assert job is not None and isinstance(job.data, int)
        await self.dispatch(job.data, due_only=True)

    async def _sweep(self, context: CallbackContext[Any, Any, Any, Any]) -> None:
        await self.sweep()

    # ----- the work -----------------------------------------------------------------------------

    async def dispatch(self, message_id: int, *, due_only: bool) -> Outcome:
        """Claim the message and hand it to the delivery engine; the author gets the progress."""
        now = self._clock()
        async with self._sessions.begin() as session:
            if not await messages.claim_scheduled(session, message_id, now, due_only):
                return Outcome.NOT_SCHEDULED
            message = await messages.get(session, message_id)
            assert message is not None
            selection = Selection.from_json(message.selection)
            message.total = await messages.add_recipients(session, message_id, selection)
            late = (now - message.scheduled_at).total_seconds() if message.scheduled_at else 0.0
            await audit.record(
                session,
                message.author_id,
                AuditAction.DISPATCH,
                now,
                target=Target(message=message_id),
                details={"recipients": message.total, "late_seconds": round(late, 3)},
            )
            if message.total == 0:
                message.status = MessageStatus.DONE
                message.finished_at = now
            following = await self._following(session, message, now)
        self.unplan(message_id)
        self._plan_following(following)
        chat_id = message.author_id
        if message.total == 0:
            await self._tell(
                chat_id, html(self._texts_for(chat_id).nobody_at_dispatch, id=message_id)
            )
            return Outcome.NOBODY
        # At once, before any await: the resume job must find it running in this process.
        self._broadcaster.start(message, chat_id, None, RunKind.SCHEDULED)
        return Outcome.STARTED

    # ----- admin actions on the queue -------------------------------------------------------------

    async def schedule(
        self, author_id: int, content: Content, selection: Selection, at: datetime
    ) -> MessageHistory:
        """Store a message to go out at `at` and plan its dispatch."""
        message = await self._broadcaster.schedule(author_id, content, selection, at)
        self.plan(message.id, at)
        return message

    async def reschedule(self, message_id: int, at: datetime, admin_id: int) -> str | None:
        """Move a queued message; None on success, else the status that made it unchangeable."""
        async with self._sessions.begin() as session:
            if not await messages.reschedule(session, message_id, at):
                return await self._status(session, message_id)
            await audit.record(
                session,
                admin_id,
                AuditAction.RESCHEDULE,
                self._clock(),
                target=Target(message=message_id),
                details={"at": at.isoformat()},
            )
        self.plan(message_id, at)
        return None

    async def cancel(self, message_id: int, admin_id: int) -> str | None:
        """Take a message out of the queue; None on success, else why it could not be."""
        async with self._sessions.begin() as session:
            cancelled = await messages.set_status(
                session,
                message_id,
                MessageStatus.CANCELLED,
                expected=[MessageStatus.SCHEDULED],
                finished_at=self._clock(),
            )
            if not cancelled:
                return await self._status(session, message_id)
            message = await messages.get(session, message_id)
            assert message is not None
            # An occurrence of a series: cancelling it skips it; the series goes on.
            following = await self._following(session, message, self._clock(), skipped=True)
            await audit.record(
                session,
                admin_id,
                AuditAction.CANCEL,
                self._clock(),
                target=Target(message=message_id),
            )
        self.unplan(message_id)
        self._plan_following(following)
        return None

    async def send_now(self, message_id: int, admin_id: int) -> str | None:
        """Dispatch a queued message at once; None on success, else why it could not be."""
        outcome = await self.dispatch(message_id, due_only=False)
        if outcome is Outcome.NOT_SCHEDULED:
            async with self._sessions() as session:
                return await self._status(session, message_id)
        async with self._sessions.begin() as session:
            await audit.record(
                session,
                admin_id,
                AuditAction.SEND,
                self._clock(),
                target=Target(message=message_id),
                details={"early": True},
            )
        return None

    # ----- repeating schedules --------------------------------------------------------------------

    async def _following(
        self,
        session: AsyncSession,
        message: MessageHistory,
        now: datetime,
        skipped: bool = False,
    ) -> MessageHistory | None:
        """In the transaction that takes an occurrence out of the queue: make the next one,
        from its rule slot (moving an occurrence in time does not move the series)."""
        if message.series_id is None:
            return None
        if skipped:
            found = await series.get(session, message.series_id)
            if found is not None:
                series.note_skipped(found, message)
        after = message.series_slot or message.scheduled_at or now
        return await series.advance(session, message.series_id, after, now)

    def _plan_following(self, following: MessageHistory | None) -> None:
        if following is not None and following.scheduled_at is not None:
            self.plan(following.id, following.scheduled_at)

    async def schedule_series(
        self,
        author_id: int,
        content: Content,
        selection: Selection,
        first: datetime,
        rule: Rule,
        zone: str,
    ) -> tuple[Series, MessageHistory]:
        """Store a repeating schedule with its first occurrence (the chosen time, or the rule's
        first slot after it when that day is not one of the rule's), and plan that."""
        now = self._clock()
        first = next_after(rule, zone, first - timedelta(microseconds=1)) or first
        async with self._sessions.begin() as session:
            made, occurrence = await series.create(
                session, author_id, content, selection, rule, zone, first, now
            )
            await admins.draft_opened(session, author_id, None, now)
            await audit.record(
                session,
                author_id,
                AuditAction.SCHEDULE,
                now,
                target=Target(message=occurrence.id),
                details={"at": first.isoformat(), "series": made.id, "rule": rule.to_json()},
            )
        self.plan(occurrence.id, first)
        return made, occurrence

    async def series_action(
        self, series_id: int, action: AuditAction, admin_id: int, occurrence: int = 0
    ) -> bool:
        """Skip the next occurrence (only `occurrence`, the one the admin saw, when given),
        pause, resume or stop a series; False if it cannot be (it ended, went out meanwhile,
        or is not in the state the action needs). The waiting occurrence is locked before
        the series row, in the order a dispatch takes them."""
        now = self._clock()
        planned: MessageHistory | None = None
        dropped: MessageHistory | None = None
        try:
            async with self._sessions.begin() as session:
                found = await series.get(session, series_id)
                if found is None:
                    return False
                if action is AuditAction.SERIES_RESUME:
                    if not await series.set_status(
                        session, series_id, SeriesStatus.ACTIVE, (SeriesStatus.PAUSED,)
                    ):
                        return False
                    await session.refresh(found)
                    after = max(now, found.skipped_to or now)
                    planned = await series.advance(session, series_id, after, now)
                else:
                    wanted = {
                        AuditAction.SERIES_SKIP: (SeriesStatus.ACTIVE,),
                        AuditAction.SERIES_PAUSE: (SeriesStatus.ACTIVE,),
                        AuditAction.SERIES_STOP: (SeriesStatus.ACTIVE, SeriesStatus.PAUSED),
                    }[action]
                    if found.status not in wanted:
                        return False
                    dropped = await series.take_pending(session, series_id, now)
                    if action is AuditAction.SERIES_SKIP:
                        if dropped is None or (occurrence and dropped.id != occurrence):
                            raise _Refused
                        planned = await self._following(session, dropped, now, skipped=True)
                    else:
                        target = (
                            SeriesStatus.PAUSED
                            if action is AuditAction.SERIES_PAUSE
                            else SeriesStatus.STOPPED
                        )
                        if not await series.set_status(session, series_id, target, wanted):
                            raise _Refused
                shown = dropped or planned
                await audit.record(
                    session,
                    admin_id,
                    action,
                    now,
                    target=Target(message=shown.id if shown is not None else None),
                    details={"series": series_id},
                )
        except _Refused:
            return False
        if dropped is not None:
            self.unplan(dropped.id)
        self._plan_following(planned)
        return True

    async def series_text(
        self, series_id: int, text: str, entities: list[dict[str, Any]], admin_id: int
    ) -> bool:
        """New text for this and the following occurrences; False if the series ended."""
        now = self._clock()
        async with self._sessions.begin() as session:
            found = await series.get(session, series_id)
            if found is None or found.status not in series.LIVE:
                return False
            waiting = await series.set_text(session, found, text, entities)
            await audit.record(
                session,
                admin_id,
                AuditAction.SERIES_EDIT,
                now,
                target=Target(message=waiting.id if waiting else None),
                details={"series": series_id},
            )
        return True

    @staticmethod
    async def _status(session: AsyncSession, message_id: int) -> str:
        message = await messages.get(session, message_id)
        return message.status.value if message is not None else MessageStatus.CANCELLED.value

    async def sweep(self) -> list[int]:
        """Send anything due that has no job (a missed wake-up, another process's message)."""
        async with self._sessions() as session:
            queued, _ = await messages.scheduled(session)
        now = self._clock()
        handled = []
        for message in queued:
            if message.scheduled_at is None or message.scheduled_at > now:
                continue
            if self.has_job(message.id) and now - message.scheduled_at < timedelta(seconds=5):
                continue
            await self._due(message, now)
            handled.append(message.id)
        return handled

    async def restore(self) -> None:
        """At start-up: a job for every future message; overdue ones go out or are missed."""
        async with self._sessions() as session:
            queued, _ = await messages.scheduled(session)
        now = self._clock()
        for message in queued:
            assert message.scheduled_at is not None
            if message.scheduled_at > now:
                self.plan(message.id, message.scheduled_at)
            else:
                await self._due(message, now)

    async def _due(self, message: MessageHistory, now: datetime) -> None:
        assert message.scheduled_at is not None
        if now - message.scheduled_at <= self._max_lateness:
            await self.dispatch(message.id, due_only=True)
        else:
            await self._miss(message, now)

    async def _miss(self, message: MessageHistory, now: datetime) -> None:
        async with self._sessions.begin() as session:
            changed = await messages.set_status(
                session,
                message.id,
                MessageStatus.MISSED,
                expected=[MessageStatus.SCHEDULED],
                finished_at=now,
            )
            if not changed:
                return
            following = await self._following(session, message, now)
            await audit.record(
                session,
                message.author_id,
                AuditAction.MISSED,
                now,
                target=Target(message=message.id),
            )
            zones = {
                admin: await admins.zone_for(session, admin, self._default_zone)
                for admin in self._admin_ids
            }
        self.unplan(message.id)
        self._plan_following(following)
        assert message.scheduled_at is not None
        for admin, zone in sorted(zones.items()):
            texts = self._texts_for(admin)
            await self._tell(
                admin,
                html(
                    texts.missed_notice,
                    id=message.id,
                    when=when(message.scheduled_at, zone, texts),
                    lateness=_lateness(self._max_lateness),
                ),
            )

    async def _tell(self, chat_id: int, text: str) -> None:
        try:
            await self._bot.send_message(chat_id, text)
        except TelegramError as exc:
            log.warning("could not tell %s: %s", chat_id, exc)


class _Refused(Exception):
    """Rolls back a series action found impossible halfway (its transaction undone)."""


def _lateness(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"
