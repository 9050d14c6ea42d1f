"""The delivery engine: paced, bounded-concurrency sending with a crash-safe per-person ledger.

Three promises, each kept here:
- Outcomes are never lost: a batch stays in memory until the transaction that records it has
  committed; a failed write (locked database, dropped connection, failover) is retried with
  backoff, and no new people are claimed meanwhile, so sending pauses on its own.
- In doubt means in flight: people are claimed only as far as can be in flight (the
  concurrency, or 0.3 s at a high paid rate), so after a crash at most that many are
  unconfirmed; everyone else is either recorded or still pending.
- One sender: the run holds the message's lease (owner, epoch, expiry). Every ledger write
  renews it and is refused once another process has taken the message over, and no send
  starts after the lease may have run out (a paused process wakes up and sends nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

import httpx
from sqlalchemy.exc import SQLAlchemyError
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
CRASH_NOTE = "in flight when the bot died; may have arrived"
BROKE_NOTE = "in flight when the delivery broke off; may have arrived"

_MAYBE_ARRIVED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
_LEDGER_TROUBLE = (SQLAlchemyError, OSError)
_P = ParamSpec("_P")
_T = TypeVar("_T")


class Fenced(Exception):
    """Another process holds this message's lease now: this run must record nothing more."""


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
    """Retry, ledger and lease policy; see the README's delivery section."""

    concurrency: int = 8
    retry_after_attempts: int = 5
    network_attempts: int = 3
    backoff: float = 0.5
    flush_interval: float = 0.5
    flush_size: int = 200
    ledger_backoff: float = 0.2
    ledger_backoff_max: float = 5.0
    lease: float = 5.0
    claim_size: int | None = None  # None: what can be in flight, see claim_for

    def claim_for(self, rate: float | None) -> int:
        """How many people may be claimed and not yet recorded: all of them are in doubt if the
        process dies, so it is about what can be in flight: the concurrency, or 0.3 s of
        sending at a high paid rate (both within the promise of max(concurrency, 1 s))."""
        if self.claim_size is not None:
            return self.claim_size
        if rate is None:
            return max(self.concurrency, 256)
        return max(self.concurrency, math.ceil(rate * 0.3))


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
        owner: str = "herald",
    ) -> None:
        self._sessions = sessions
        self._send = sender
        self._pacer = pacer
        self._policy = policy
        self._clock = clock
        self._owner = owner
        self._results: list[Outcome] = []
        self._in_flight: set[int] = set()
        self._unrecorded = 0
        self._epoch = 0
        self._message_id = 0
        self._valid_until = 0.0
        self._renew_after = 0.0
        self._renewed = asyncio.Event()
        self._abort = asyncio.Event()
        self.tally = Tally()
        self.in_doubt = 0
        """People unconfirmed when this run began: for a resumed run, those an interruption
        left in doubt."""

    @property
    def epoch(self) -> int:
        return self._epoch

    async def run(
        self,
        message_id: int,
        stop: asyncio.Event,
        progress: tuple[int, int | None, datetime] | None = None,
    ) -> Tally:
        """Deliver, then cancel whoever is left if stopped; returns the final counters.

        `progress` (chat, message id, start time) is stored with the lease, for the report of a
        resumed run. Raises Fenced when the message is (or becomes) another process's to send.
        """
        self._message_id = message_id
        began = time.monotonic()
        async with self._sessions.begin() as session:
            epoch = await messages.take_lease(
                session, message_id, self._owner, self._clock(), self._lease_end()
            )
            if epoch is None:
                raise Fenced(message_id)
            if progress is not None:
                await messages.set_progress(session, message_id, *progress)
            await messages.in_flight_to_unconfirmed(session, message_id, CRASH_NOTE)
            await session.flush()
            message = await messages.get(session, message_id)
            assert message is not None, message_id
            await session.refresh(message)
            self.tally = Tally.of(message)
            self.in_doubt = self.tally.unconfirmed
        self._epoch = epoch
        self._held_since(began)
        queue: asyncio.Queue[int | None] = asyncio.Queue()
        wake = asyncio.Event()
        target = self._policy.claim_for(self._pacer.rate)
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(self._policy.concurrency):
                    group.create_task(self._worker(queue, stop, wake, target))
                try:
                    await self._keep_ledger(queue, stop, wake, target)
                finally:
                    for _ in range(self._policy.concurrency):
                        queue.put_nowait(None)
        except BaseException as exc:
            self._abort.set()
            if _fenced(exc):
                raise Fenced(message_id) from None
            note = STOPPED_NOTE if isinstance(exc, asyncio.CancelledError) else BROKE_NOTE
            await self._salvage(note)
            raise
        if stop.is_set():
            cancelled = await self._with_ledger(self._cancel_rest)
            self.tally.add(DeliveryStatus.CANCELLED, cancelled)
        return self.tally

    # ----- the ledger ---------------------------------------------------------------------------

    async def _keep_ledger(
        self,
        queue: asyncio.Queue[int | None],
        stop: asyncio.Event,
        wake: asyncio.Event,
        target: int,
    ) -> None:
        """The run's only database writer: records outcomes, renews the lease, claims people.

        Each transaction records what finished and tops the claimed-but-unrecorded people up to
        the claim target, so the queue holds about one second of sending and never runs dry. It
        also runs when the lease is half used with nothing to record: senders wait for a fresh
        lease, so after a freeze longer than the lease nothing else would ever renew it.
        """
        cursor = 0
        exhausted = False
        while True:
            batch = list(self._results)
            room = 0 if stop.is_set() or exhausted else target - (self._unrecorded - len(batch))
            if batch or room > 0 or time.monotonic() >= self._renew_after:
                claimed = await self._with_ledger(self._write, batch, room, cursor)
                del self._results[: len(batch)]
                self._unrecorded -= len(batch)
                if room > 0:
                    exhausted = len(claimed) < room
                    self._unrecorded += len(claimed)
                    for user_id in claimed:
                        queue.put_nowait(user_id)
                    cursor = claimed[-1] if claimed else cursor
            if (exhausted or stop.is_set()) and self._unrecorded == 0:
                return
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._policy.flush_interval)

    async def _with_ledger(
        self, write: Callable[_P, Awaitable[_T]], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """Run one ledger transaction until it commits: the batch is never dropped, only
        retried with backoff. Fenced (the message is another process's now) is final."""
        delay = self._policy.ledger_backoff
        while True:
            try:
                return await write(*args, **kwargs)
            except _LEDGER_TROUBLE as exc:
                log.warning(
                    "message %s: could not record outcomes (%s); retrying in %.1f s",
                    self._message_id,
                    type(exc).__name__,
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._policy.ledger_backoff_max)

    async def _write(self, batch: list[Outcome], claim: int, cursor: int) -> list[int]:
        """One transaction: renew the lease (fenced), record `batch`, claim up to `claim`."""
        began = time.monotonic()
        blocked = [o.user_id for o in batch if o.status is DeliveryStatus.BLOCKED]
        async with self._sessions.begin() as session:
            await self._renew(session)
            await messages.record(session, self._message_id, batch)
            await users.mark_blocked(session, blocked, self._clock())
            claimed = (
                await messages.claim(session, self._message_id, claim, cursor) if claim > 0 else []
            )
        self._held_since(began)
        return claimed

    async def _cancel_rest(self) -> int:
        began = time.monotonic()
        async with self._sessions.begin() as session:
            await self._renew(session)
            cancelled = await messages.cancel_rest(session, self._message_id)
        self._held_since(began)
        return cancelled

    async def _renew(self, session: AsyncSession) -> None:
        if not await messages.renew_lease(
            session, self._message_id, self._epoch, self._lease_end()
        ):
            self._abort.set()
            raise Fenced(self._message_id)

    def _lease_end(self) -> datetime:
        return self._clock() + timedelta(seconds=self._policy.lease)

    def _held_since(self, began: float) -> None:
        """The lease was renewed in a transaction that began at `began` (monotonic): sends may
        start until it could have run out, measured from then, less a margin for clock drift."""
        self._valid_until = began + self._policy.lease * 0.8
        self._renew_after = began + self._policy.lease * 0.4
        self._renewed.set()

    async def _lease_holds(self, stop: asyncio.Event) -> bool:
        """Wait until this run may send (its lease is surely still held); False if stopped."""
        while time.monotonic() >= self._valid_until:
            if stop.is_set() or self._abort.is_set():
                return False
            self._renewed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._renewed.wait(), self._policy.flush_interval)
        return not self._abort.is_set()

    # ----- the senders --------------------------------------------------------------------------

    async def _worker(
        self,
        queue: asyncio.Queue[int | None],
        stop: asyncio.Event,
        wake: asyncio.Event,
        target: int,
    ) -> None:
        """Sends to queued people; after a stop, claimed people are left for `cancel_rest`.

        The ledger is woken when half the claim is used, so the next claim arrives while the
        rest is still being sent and workers never wait on the database.
        """
        low = max(1, target // 2)
        while (user_id := await queue.get()) is not None:
            self._in_flight.add(user_id)
            outcome = None if stop.is_set() else await self._deliver(user_id, stop)
            self._in_flight.discard(user_id)
            if outcome is None:
                self._unrecorded -= 1
            else:
                self._results.append(outcome)
                self.tally.add(outcome.status)
            if queue.qsize() < low or len(self._results) >= self._policy.flush_size:
                wake.set()
            if stop.is_set():
                wake.set()

    async def _deliver(self, user_id: int, stop: asyncio.Event) -> Outcome | None:
        """One person, with retries; None if stopped (or fenced) before anything was sent."""
        policy = self._policy
        limited = 0
        network = 0
        while True:
            if not await self._pacer.acquire(stop) or not await self._lease_holds(stop):
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

    # ----- leaving ------------------------------------------------------------------------------

    async def _salvage(self, note: str) -> None:
        """On the way out of an interrupted run: keep what is known, mark sends in doubt.

        Recorded outcomes are written, people whose send was under way become unconfirmed, the
        claim is released (claimed people never tried stay pending for the next run) and so is
        the lease. One attempt only: if the database cannot take it, the next start marks the
        claimed people unconfirmed, which is the same bound.
        """
        for user_id in self._in_flight:
            self._results.append(self._outcome(user_id, DeliveryStatus.UNCONFIRMED, note))
            self.tally.add(DeliveryStatus.UNCONFIRMED)
        self._in_flight.clear()
        batch = list(self._results)
        blocked = [o.user_id for o in batch if o.status is DeliveryStatus.BLOCKED]
        try:
            async with self._sessions.begin() as session:
                await self._renew(session)
                await messages.record(session, self._message_id, batch)
                await users.mark_blocked(session, blocked, self._clock())
                await messages.release_claim(session, self._message_id)
                await messages.release_lease(session, self._message_id, self._epoch)
        except Fenced:
            log.warning("message %s was taken over; leaving it to its new sender", self._message_id)
        except Exception:
            log.exception(
                "could not save the state of message %s; a restart will", self._message_id
            )


def _fenced(error: BaseException) -> bool:
    if isinstance(error, Fenced):
        return True
    if isinstance(error, BaseExceptionGroup):
        return any(_fenced(e) for e in error.exceptions)
    return False
