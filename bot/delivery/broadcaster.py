"""Runs deliveries as background tasks and keeps the admin's progress message and report current."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.config import DeliveryConfig
from bot.delivery import everyone
from bot.delivery.actions import Copies, make_action_sender
from bot.delivery.content import Content, Sender, Values, make_sender, stored
from bot.delivery.engine import DeliveryEngine, Tally
from bot.delivery.ledger import Fenced
from bot.delivery.pacing import Pacer
from bot.delivery.personal import Recipients
from bot.delivery.policy import Policy
from bot.delivery.views import (
    RunKind,
    header,
    progress_keyboard,
    progress_text,
    report_keyboard,
    report_text,
)
from bot.texts import Texts
from db.models import ActionKind, AuditAction, DeliveryStatus, MessageHistory, MessageStatus
from db.repo import actions, admins, audience, audit, messages, streams
from db.repo.audience import Selection
from db.repo.audit import Target

log = logging.getLogger(__name__)


@dataclass
class Run:
    message_id: int
    stop: asyncio.Event
    engine: DeliveryEngine
    kind: RunKind
    redraw: asyncio.Event
    task: asyncio.Task[None] | None = None
    resumed: bool = False
    action: ActionKind | None = None  # an edit, delete, pin or unpin for everyone


class Broadcaster:
    """Owns every running delivery; the conversation hands it a stored message and moves on."""

    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        texts_for: Callable[[int], Texts],
        delivery: DeliveryConfig,
        clock: Callable[[], datetime],
        progress_interval: float,
        policy: Policy,
        owner: str = "herald",
    ) -> None:
        self._owner = owner
        self._bot = bot
        self._sessions = sessions
        self._texts_for = texts_for  # reports go to admins, each in their own language
        self._delivery = delivery
        self._clock = clock
        self._progress_interval = progress_interval
        self._policy = policy
        self._pacer = Pacer(delivery.rate_per_second)
        self.runs: dict[int, Run] = {}

    async def submit(
        self, author_id: int, content: Content, selection: Selection
    ) -> MessageHistory:
        """Store the message and one pending row per reachable person, ready to send."""
        async with self._sessions.begin() as session:
            message = await self._store(session, author_id, content, selection, None)
            message.total = await messages.add_recipients(session, message.id, selection)
            if message.total == 0:
                message.status = MessageStatus.CANCELLED
                return message
            # The draft is this message now: a restart from here on loses nothing to warn about.
            await admins.draft_opened(session, author_id, None, self._clock())
            await audit.record(
                session,
                author_id,
                AuditAction.SEND,
                self._clock(),
                target=Target(message=message.id),
                details={"recipients": message.total, "type": message.recipient_type.value},
            )
        return message

    async def send_now(
        self,
        author_id: int,
        content: Content,
        selection: Selection,
        chat_id: int,
        progress_message_id: int,
    ) -> MessageHistory | None:
        """Store and start sending, reporting into the given message; None if nobody is left."""
        message = await self.submit(author_id, content, selection)
        if message.total == 0:
            return None
        self.start(message, chat_id, progress_message_id)
        return message

    async def schedule(
        self, author_id: int, content: Content, selection: Selection, when: datetime
    ) -> MessageHistory:
        """Store a message to go out at `when`; recipients are resolved when it does."""
        async with self._sessions.begin() as session:
            message = await self._store(session, author_id, content, selection, when)
            await admins.draft_opened(session, author_id, None, self._clock())
            await audit.record(
                session,
                author_id,
                AuditAction.SCHEDULE,
                self._clock(),
                target=Target(message=message.id),
                details={"at": when.isoformat(), "type": message.recipient_type.value},
            )
        return message

    async def _store(
        self,
        session: AsyncSession,
        author_id: int,
        content: Content,
        selection: Selection,
        when: datetime | None,
    ) -> MessageHistory:
        message = await messages.create(
            session,
            stored(
                content,
                author_id,
                selection.to_json(),
                recipient_type=selection.recipient_type(),
                recipient_group=await audience.recipient_group(session, selection),
                status=MessageStatus.SENDING if when is None else MessageStatus.SCHEDULED,
                scheduled_at=when,
                created_at=self._clock(),
            ),
        )
        await messages.add_targets(session, message.id, selection.targets())
        return message

    def start(
        self,
        message: MessageHistory,
        chat_id: int,
        progress_message_id: int | None,
        kind: RunKind = RunKind.NOW,
        resumed: bool = False,
    ) -> bool:
        """Begin (or continue) sending in the background, reporting into the given message;
        False if this process already runs it. Callers start right after the commit that made
        the message `sending`, with no await between, so the resume job never takes it."""
        if message.id in self.runs:
            return False
        content = Content.of(message)
        no_stream = self._texts_for(0).placeholder_no_stream  # 0: nobody's, the default
        values = Recipients(self._sessions, message.id, no_stream).values
        if message.action is None:
            sender = self._as_it_reads_now(message.id, values)
        else:
            copies = Copies(self._sessions, message.id).of
            replaces_file = message.file_id is not None
            sender = make_action_sender(
                self._bot, message.action, content, copies, values, replaces_file
            )
        engine = DeliveryEngine(
            self._sessions, sender, self._pacer, self._policy, self._clock, self._owner
        )
        engine.tally = Tally.of(message)  # the first progress frame counts everyone
        run = Run(
            message.id,
            asyncio.Event(),
            engine,
            kind,
            asyncio.Event(),
            resumed=resumed,
            action=message.action,
        )
        self.runs[message.id] = run
        run.task = asyncio.create_task(
            self._run(run, chat_id, progress_message_id), name=f"delivery-{message.id}"
        )
        return True

    def _as_it_reads_now(self, message_id: int, values: Values) -> Sender:
        """A sender of the broadcast as edited for everyone since (a retry after an edit sends
        the new text), built on the first send from the stored rows."""
        built: list[Sender] = []
        lock = asyncio.Lock()

        async def send(chat_id: int) -> int:
            if not built:
                async with lock:
                    if not built:
                        parent, seen = await everyone.look(self._sessions, message_id)
                        assert parent is not None and seen is not None, message_id
                        content = everyone.current_content(parent, seen)
                        paid = self._delivery.paid_broadcast
                        built.append(make_sender(self._bot, content, paid, values))
            return await built[0](chat_id)

        return send

    @property
    def lease(self) -> float:
        """Seconds a delivery's lease lasts without renewal."""
        return self._policy.lease

    def stop(self, message_id: int) -> bool:
        """Ask a running delivery to stop; False if it is not running."""
        run = self.runs.get(message_id)
        if run is None or run.stop.is_set():
            return False
        run.stop.set()
        run.redraw.set()
        return True

    @property
    def paused_for(self) -> float:
        """Seconds left of a pause Telegram asked for (429), or 0."""
        return max(0.0, self._pacer.paused_until - time.monotonic())

    async def wait(self, message_id: int) -> None:
        run = self.runs.get(message_id)
        if run is not None and run.task is not None:
            await asyncio.shield(run.task)

    async def _run(self, run: Run, chat_id: int, progress_message_id: int | None) -> None:
        try:
            await self._deliver(run, chat_id, progress_message_id)
        finally:
            # Only now: until its final status is written the message is this run's. A run
            # that broke off has released its lease, and the resume job would otherwise take
            # it for an orphan and send again in the gap.
            if self.runs.get(run.message_id) is run:
                del self.runs[run.message_id]

    async def _deliver(self, run: Run, chat_id: int, progress_message_id: int | None) -> None:
        if progress_message_id is None:
            progress_message_id = await self.new_progress(chat_id)
        top = await self.header(run.message_id, run.kind, self._texts_for(chat_id))
        progress = asyncio.create_task(self._show_progress(run, top, chat_id, progress_message_id))
        status = MessageStatus.FAILED
        try:
            await run.engine.run(
                run.message_id, run.stop, (chat_id, progress_message_id, self._clock())
            )
            status = MessageStatus.STOPPED if run.stop.is_set() else MessageStatus.DONE
        except Fenced:
            log.warning("message %s is being sent by another process; leaving it", run.message_id)
            return
        except Exception:
            log.exception("delivery of message %s failed", run.message_id)
        finally:
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await progress
        in_doubt = run.engine.in_doubt if run.resumed else None
        async with self._sessions.begin() as session:
            finished = await messages.finish(
                session, run.message_id, run.engine.epoch, status, self._clock(), in_doubt
            )
            message = await messages.get(session, run.message_id)
        if not finished or message is None:
            return
        report, markup = self.report(message, top, self._texts_for(chat_id))
        if not await self._edit(chat_id, progress_message_id, report, markup):
            try:
                await self._bot.send_message(chat_id, report, reply_markup=markup)
            except TelegramError as exc:
                log.warning("could not report message %s to %s: %s", run.message_id, chat_id, exc)

    def report(
        self, message: MessageHistory, top: Markup, texts: Texts
    ) -> tuple[Markup, InlineKeyboardMarkup | None]:
        """A message's report and its buttons, from the counters on its row."""
        tally = Tally.of(message)
        return (
            report_text(texts, top, message, tally),
            report_keyboard(texts, message, tally),
        )

    async def header(self, message_id: int, kind: RunKind, texts: Texts) -> Markup:
        """The first line of every screen about one message."""
        async with self._sessions() as session:
            message = await messages.get(session, message_id)
            titles = {s.id: s.title for s in await streams.listed(session, include_archived=True)}
        assert message is not None, message_id
        return header(texts, message, titles, kind)

    async def _show_progress(
        self, run: Run, top: Markup, chat_id: int, message_id: int | None
    ) -> None:
        counted: Tally | None = None
        begin, first_done = time.monotonic(), 0
        shown = ""
        while True:
            tally: Tally = run.engine.tally
            if tally is not counted:
                # The engine's own count replaces the seed once its lease is taken (a resume
                # adds those it finds in doubt): the rate counts from there.
                counted, begin, first_done = tally, time.monotonic(), tally.done
            sent = tally.done - first_done
            rate = sent / (time.monotonic() - begin) if sent else None
            stopping = run.stop.is_set()
            texts = self._texts_for(chat_id)
            title = (
                texts.progress_title if run.action is None else texts.everyone_progress[run.action]
            )
            text = progress_text(texts, top, title, tally, rate, self.paused_for, stopping)
            if text != shown:
                markup = progress_keyboard(texts, run.message_id, stopping)
                await self._edit(chat_id, message_id, text, markup)
                shown = text
            run.redraw.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.redraw.wait(), self._progress_interval)

    async def _edit(
        self, chat_id: int, message_id: int | None, text: str, markup: InlineKeyboardMarkup | None
    ) -> bool:
        """Update the progress message; False if there is none to update (gone, or never sent)."""
        if message_id is None:
            return False
        try:
            await self._bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=markup
            )
        except TelegramError as exc:
            if "not modified" in exc.message:
                return True
            log.warning("could not update progress message %s: %s", message_id, exc)
            return False
        return True

    async def retry(
        self, message_id: int, admin_id: int, statuses: Sequence[DeliveryStatus]
    ) -> MessageHistory | everyone.Refusal | None:
        """Queue people in `statuses` again, and anyone never tried; None if there is nobody
        to send to (or the message is being sent right now). An edit, delete or pin of the
        broadcast running, or (for such a run) a later one, refuses: they would overlap."""
        async with self._sessions.begin() as session:
            message = await messages.get(session, message_id)
            if message is None:
                return None
            parent_id = message.parent_id or message.id
            await actions.lock(session, parent_id)
            refused = await everyone.retry_refusal(session, message, self._clock())
            if refused is not None:
                return refused
            counts = await messages.status_counts(session, message_id)
            if not any(counts.get(status) for status in (*statuses, DeliveryStatus.PENDING)):
                return None
            claimed = await messages.set_status(
                session,
                message_id,
                MessageStatus.SENDING,
                expected=[MessageStatus.DONE, MessageStatus.STOPPED, MessageStatus.FAILED],
                finished_at=None,
            )
            if not claimed:
                return None
            requeued = await messages.requeue(session, message_id, statuses)
            await audit.record(
                session,
                admin_id,
                AuditAction.RETRY,
                self._clock(),
                target=Target(message=message_id),
                details={"recipients": requeued, "statuses": [s.value for s in statuses]},
            )
            return await messages.get(session, message_id)

    async def counts(self, message_id: int) -> dict[DeliveryStatus, int]:
        """How many recipients of a message are in each delivery status."""
        async with self._sessions() as session:
            return await messages.status_counts(session, message_id)

    async def resume_orphans(self) -> list[int]:
        """Continue every delivery nobody is sending: its process stopped or died, and its lease
        ran out (at start-up, and every few seconds in the active process)."""
        async with self._sessions.begin() as session:
            orphans = [
                m for m in await messages.orphaned(session, self._clock()) if m.id not in self.runs
            ]
            for message in orphans:
                await audit.record(
                    session,
                    message.author_id,
                    AuditAction.RESUME,
                    self._clock(),
                    target=Target(message=message.id),
                )
        for message in orphans:
            if message.id in self.runs:
                continue
            chat_id = message.progress_chat_id or message.author_id
            progress_id = message.progress_message_id
            kind = RunKind.SCHEDULED if message.scheduled_at else RunKind.NOW
            self.start(message, chat_id, progress_id, kind, resumed=True)
        return [m.id for m in orphans]

    async def new_progress(self, chat_id: int) -> int | None:
        """A fresh progress message, or None if Telegram refuses (the report then comes new)."""
        try:
            sent = await self._bot.send_message(chat_id, self._texts_for(chat_id).progress_starting)
        except TelegramError as exc:
            log.warning("no progress message in %s: %s", chat_id, exc)
            return None
        return sent.message_id

    async def shutdown(self) -> None:
        """Abandon running deliveries as a crash would; the next start resumes them."""
        tasks = [run.task for run in self.runs.values() if run.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.runs.clear()
