"""The delivery engine: paced, bounded-concurrency sending with a crash-safe per-person ledger."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.delivery.content import Sender
from bot.delivery.pacing import Pacer
from db.models import COUNTER_OF, DeliveryStatus, MessageHistory
from db.repo import messages, users
from db.repo.messages import Outcome

log = logging.getLogger(__name__)

STOPPED_NOTE = "in flight when the bot stopped; may have arrived"
BROKE_NOTE = "in flight when the delivery broke off; may have arrived"

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
        counters = {name: getattr(message, name) for name in COUNTER_OF.values()}
        return cls(total=message.total, **counters)

    def add(self, status: DeliveryStatus, n: int = 1) -> None:
        name = COUNTER_OF.get(status)
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
    claim_size: int | None = None  # None: about two seconds of sending, 16 to 256

    def claim_for(self, rate: float | None) -> int:
        """How many people to claim at once; claimed people become unconfirmed after a crash."""
        if self.claim_size is not None:
            return self.claim_size
        floor = 2 * self.concurrency
        return 256 if rate is None else max(floor, min(256, math.ceil(rate * 2)))


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
        self._in_flight: set[int] = set()
        self.tally = Tally()

    async def run(self, message_id: int, stop: asyncio.Event) -> Tally:
        """Deliver, then cancel whoever is left if stopped; returns the final counters."""
        async with self._sessions() as session:
            message = await messages.get(session, message_id)
            assert message is not None, message_id
            self.tally = Tally.of(message)
        chunk = self._policy.claim_for(self._pacer.rate)
        queue: asyncio.Queue[int | None] = asyncio.Queue()
        wake = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(self._policy.concurrency):
                    group.create_task(self._worker(queue, stop, wake, chunk))
                try:
                    await self._keep_ledger(message_id, queue, stop, wake, chunk)
                finally:
                    for _ in range(self._policy.concurrency):
                        queue.put_nowait(None)
        except BaseException as exc:
            note = STOPPED_NOTE if isinstance(exc, asyncio.CancelledError) else BROKE_NOTE
            await self._salvage(message_id, note)
            raise
        await self._write(message_id, claim=0, cursor=0)
        if stop.is_set():
            async with self._sessions.begin() as session:
                cancelled = await messages.cancel_rest(session, message_id)
            self.tally.add(DeliveryStatus.CANCELLED, cancelled)
        return self.tally

    async def _keep_ledger(
        self,
        message_id: int,
        queue: asyncio.Queue[int | None],
        stop: asyncio.Event,
        wake: asyncio.Event,
        chunk: int,
    ) -> None:
        """The run's only database writer: records outcomes and claims the next people.

        One transaction does both, and the queue is refilled while a chunk is still waiting,
        so workers never wait on the database.
        """
        cursor = 0
        while not stop.is_set():
            claim = chunk if queue.qsize() <= chunk else 0
            if claim or len(self._results) >= self._policy.flush_size:
                claimed = await self._write(message_id, claim, cursor)
                if claim and not claimed:
                    return
                if claimed:
                    cursor = claimed[-1]
                    for user_id in claimed:
                        queue.put_nowait(user_id)
                continue
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._policy.flush_interval)
            if not wake.is_set():
                await self._write(message_id, claim=0, cursor=cursor)

    async def _worker(
        self,
        queue: asyncio.Queue[int | None],
        stop: asyncio.Event,
        wake: asyncio.Event,
        chunk: int,
    ) -> None:
        """Sends to queued people; after a stop, claimed people are left for `cancel_rest`."""
        while (user_id := await queue.get()) is not None:
            self._in_flight.add(user_id)
            outcome = None if stop.is_set() else await self._deliver(user_id, stop)
            if outcome is not None:
                self._results.append(outcome)
                self.tally.add(outcome.status)
            self._in_flight.discard(user_id)
            if queue.qsize() <= chunk or len(self._results) >= self._policy.flush_size:
                wake.set()
            if stop.is_set():
                wake.set()

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
            except TelegramError as exc:
                return self._outcome(user_id, DeliveryStatus.FAILED, exc.message)
            return Outcome(user_id, DeliveryStatus.SENT, sent, None, self._clock())

    @staticmethod
    def _outcome(user_id: int, status: DeliveryStatus, error: str) -> Outcome:
        return Outcome(user_id, status, None, error)

    async def _salvage(self, message_id: int, note: str) -> None:
        """On the way out of an interrupted run: keep what is known, mark sends in doubt.

        Recorded outcomes are written, people whose send was under way become unconfirmed, and
        the claim is released so claimed people never tried stay pending for the next run.
        """
        for user_id in self._in_flight:
            self._results.append(self._outcome(user_id, DeliveryStatus.UNCONFIRMED, note))
            self.tally.add(DeliveryStatus.UNCONFIRMED)
        self._in_flight.clear()
        try:
            await self._write(message_id, claim=0, cursor=0)
            async with self._sessions.begin() as session:
                await messages.release_claim(session, message_id)
        except Exception:
            log.exception("could not save the state of message %s; a restart will", message_id)

    async def _write(self, message_id: int, claim: int, cursor: int) -> list[int]:
        """Record buffered outcomes and, if `claim`, move the next people to `sending`."""
        batch, self._results = self._results, []
        if not batch and not claim:
            return []
        blocked = [o.user_id for o in batch if o.status is DeliveryStatus.BLOCKED]
        async with self._sessions.begin() as session:
            await messages.record(session, message_id, batch)
            await users.mark_blocked(session, blocked, self._clock())
            if not claim:
                return []
            return await messages.claim(session, message_id, claim, cursor)
