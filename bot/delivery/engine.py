"""The delivery engine: paced, bounded-concurrency sending with a crash-safe per-person ledger."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.delivery.content import Sender
from bot.delivery.pacing import Pacer
from db.models import DeliveryStatus, MessageHistory
from db.repo import messages, users
from db.repo.messages import Outcome

log = logging.getLogger(__name__)

_MAYBE_ARRIVED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


@dataclass
class Tally:
    """Live counters of one run, seeded from the message row so resumes continue the count."""

    total: int = 0
    delivered: int = 0
    failed: int = 0
    blocked: int = 0
    unconfirmed: int = 0
    cancelled: int = 0

    @property
    def done(self) -> int:
        return self.delivered + self.failed + self.blocked + self.unconfirmed + self.cancelled

    @classmethod
    def of(cls, message: MessageHistory) -> Tally:
        return cls(
            total=message.total,
            delivered=message.delivered,
            failed=message.failed,
            blocked=message.blocked,
            unconfirmed=message.unconfirmed,
            cancelled=message.cancelled,
        )

    def add(self, status: DeliveryStatus, n: int = 1) -> None:
        name = {
            DeliveryStatus.SENT: "delivered",
            DeliveryStatus.FAILED: "failed",
            DeliveryStatus.BLOCKED: "blocked",
            DeliveryStatus.UNCONFIRMED: "unconfirmed",
            DeliveryStatus.CANCELLED: "cancelled",
        }.get(status)
        if name:
            setattr(self, name, getattr(self, name) + n)


@dataclass(frozen=True)
class Policy:
    """Retry policy; see the README's delivery section."""

    concurrency: int = 8
    retry_after_attempts: int = 5
    network_attempts: int = 3
    backoff: float = 0.5
    flush_interval: float = 0.5
    flush_size: int = 200


def retry_seconds(error: RetryAfter) -> float:
    """`retry_after` in seconds, whichever type this PTB version returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _may_have_arrived(error: NetworkError) -> bool:
    """A 5xx or a refused connection never reached Telegram; a cut-off answer might have."""
    cause = error.__cause__
    return isinstance(cause, _MAYBE_ARRIVED)


class DeliveryEngine:
    """Sends one stored message to its pending recipients until none is left or `stop` is set."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sender: Sender,
        pacer: Pacer,
        policy: Policy,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._send = sender
        self._pacer = pacer
        self._policy = policy
        self._clock = clock
        self._results: list[Outcome] = []
        self._db_lock = asyncio.Lock()
        self.tally = Tally()

    async def run(self, message_id: int, stop: asyncio.Event) -> Tally:
        """Deliver, then cancel whoever is left if stopped; returns the final counters."""
        policy = self._policy
        async with self._sessions() as session:
            message = await messages.get(session, message_id)
            assert message is not None, message_id
            self.tally = Tally.of(message)
        chunk = max(policy.concurrency * 2, 4)
        queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=chunk)
        flusher = asyncio.create_task(self._flush_periodically(message_id))
        try:
            workers = [
                asyncio.create_task(self._worker(message_id, queue, stop))
                for _ in range(policy.concurrency)
            ]
            try:
                await self._feed(message_id, queue, stop, chunk)
            finally:
                for _ in workers:
                    await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            flusher.cancel()
        await self._flush(message_id)
        if stop.is_set():
            async with self._db_lock, self._sessions.begin() as session:
                cancelled = await messages.cancel_rest(session, message_id)
            self.tally.add(DeliveryStatus.CANCELLED, cancelled)
        return self.tally

    async def _feed(
        self, message_id: int, queue: asyncio.Queue[int | None], stop: asyncio.Event, chunk: int
    ) -> None:
        while not stop.is_set():
            async with self._db_lock, self._sessions.begin() as session:
                claimed = await messages.claim(session, message_id, chunk)
            if not claimed:
                return
            for user_id in claimed:
                await queue.put(user_id)

    async def _worker(
        self,
        message_id: int,
        queue: asyncio.Queue[int | None],
        stop: asyncio.Event,
    ) -> None:
        """Sends to queued people; after a stop, claimed people are left for `cancel_rest`."""
        while (user_id := await queue.get()) is not None:
            outcome = None if stop.is_set() else await self._deliver(user_id, stop)
            if outcome is None:
                continue
            self._results.append(outcome)
            self.tally.add(outcome.status)
            if len(self._results) >= self._policy.flush_size:
                await self._flush(message_id)

    async def _deliver(self, user_id: int, stop: asyncio.Event) -> Outcome | None:
        """One person, with retries; None if stopped before anything was sent."""
        policy = self._policy
        limited = 0
        network = 0
        while True:
            await self._pacer.acquire()
            if stop.is_set():
                return None
            try:
                sent = await self._send(user_id)
            except RetryAfter as exc:
                limited += 1
                self._pacer.pause(retry_seconds(exc))
                if limited >= policy.retry_after_attempts:
                    return self._outcome(user_id, DeliveryStatus.FAILED, str(exc))
                continue
            except Forbidden as exc:
                return self._outcome(user_id, DeliveryStatus.BLOCKED, exc.message)
            except BadRequest as exc:
                return self._outcome(user_id, DeliveryStatus.FAILED, exc.message)
            except TimedOut as exc:
                if "Pool timeout" in exc.message:
                    continue
                return self._outcome(user_id, DeliveryStatus.UNCONFIRMED, "Timed out")
            except NetworkError as exc:
                if _may_have_arrived(exc):
                    return self._outcome(user_id, DeliveryStatus.UNCONFIRMED, exc.message)
                network += 1
                if network >= policy.network_attempts:
                    return self._outcome(user_id, DeliveryStatus.FAILED, exc.message)
                await asyncio.sleep(policy.backoff * 2 ** (network - 1))
                continue
            return Outcome(user_id, DeliveryStatus.SENT, sent.message_id, None, self._clock())

    @staticmethod
    def _outcome(user_id: int, status: DeliveryStatus, error: str) -> Outcome:
        return Outcome(user_id, status, None, error)

    async def _flush_periodically(self, message_id: int) -> None:
        while True:
            await asyncio.sleep(self._policy.flush_interval)
            await self._flush(message_id)

    async def _flush(self, message_id: int) -> None:
        """Write buffered outcomes in one transaction; blocked people are marked on the spot."""
        if not self._results:
            return
        batch, self._results = self._results, []
        blocked = [o.user_id for o in batch if o.status is DeliveryStatus.BLOCKED]
        async with self._db_lock, self._sessions.begin() as session:
            await messages.record(session, message_id, batch)
            await users.mark_blocked(session, blocked, self._clock())
