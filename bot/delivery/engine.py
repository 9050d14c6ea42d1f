"""The delivery engine: paced, bounded-concurrency sending with a crash-safe per-person ledger.

Three promises, kept between this module and the ledger (bot/delivery/ledger.py):
- Outcomes are never lost: a write stays in memory until its transaction has committed; a
  failed one (locked database, dropped connection, failover) is retried with backoff, and
  nobody new is claimed meanwhile, so sending pauses on its own.
- In doubt means under way: a worker first waits for its turn in the pace, then takes a person
  the ledger has just claimed, and sends at once. After a crash the claimed people without an
  outcome are the requests in flight and the answers not written yet, never people nobody
  tried (above the free rates, plus the small reserve of `Policy.reserve_for`).
- One sender: the run holds the message's lease (owner, epoch, expiry). Every ledger write
  renews it and is refused once another process has taken the message over, and no send
  starts after the lease may have run out (a paused process wakes up and sends nothing).
"""

from __future__ import annotations

import asyncio
import logging
import time
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
from bot.delivery.ledger import Fenced, Ledger
from bot.delivery.pacing import Pacer
from bot.delivery.policy import Policy
from db.models import COUNTER_OF, DeliveryStatus, MessageHistory
from db.repo import messages
from db.repo.messages import Outcome

log = logging.getLogger(__name__)

STOPPED_NOTE = "in flight when the bot stopped; may have arrived"
CRASH_NOTE = "in flight when the bot died; may have arrived"
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
        self._requested: set[int] = set()  # people whose request is on its way to Telegram
        self._epoch = 0
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
        began = time.monotonic()
        lease_end = self._clock() + timedelta(seconds=self._policy.lease)
        async with self._sessions.begin() as session:
            epoch = await messages.take_lease(
                session, message_id, self._owner, self._clock(), lease_end
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
        ledger = Ledger(
            self._sessions,
            message_id,
            epoch,
            message.ledger_seq,
            self._policy,
            self._policy.reserve_for(self._pacer.rate),
            self._clock,
        )
        ledger.held_since(began)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(ledger.run())
                watch = group.create_task(_stop_on(stop, ledger))
                try:
                    async with asyncio.TaskGroup() as crew:
                        for _ in range(self._policy.concurrency):
                            crew.create_task(self._worker(ledger, stop))
                finally:
                    watch.cancel()
                    ledger.close()
        except BaseException as exc:
            ledger.aborted.set()
            if _fenced(exc):
                raise Fenced(message_id) from None
            note = STOPPED_NOTE if isinstance(exc, asyncio.CancelledError) else BROKE_NOTE
            self.tally.add(DeliveryStatus.UNCONFIRMED, await ledger.salvage(self._requested, note))
            raise
        if stop.is_set():
            self.tally.add(DeliveryStatus.CANCELLED, await ledger.cancel_rest())
        return self.tally

    async def _worker(self, ledger: Ledger, stop: asyncio.Event) -> None:
        """Takes its turn in the pace, then a person just claimed, and sends; until nobody is
        left or the run stops (a person taken and not sent stays for `cancel_rest`)."""
        while not ledger.nobody_left() and await self._pacer.acquire(stop):
            user_id = await ledger.take()
            if user_id is None:
                return
            outcome = await self._deliver(ledger, user_id, stop)
            if outcome is not None:
                ledger.finish(outcome)
                self.tally.add(outcome.status)

    async def _deliver(self, ledger: Ledger, user_id: int, stop: asyncio.Event) -> Outcome | None:
        """One person, with retries; None if stopped (or fenced) before anything was sent.
        The first attempt's turn in the pace was taken before the claim."""
        policy = self._policy
        limited = 0
        network = 0
        paced = True
        while True:
            if not paced and not await self._pacer.acquire(stop):
                return None
            paced = False
            if stop.is_set() or not await ledger.lease_holds(stop):
                return None
            self._requested.add(user_id)
            try:
                sent = await self._send(user_id)
            except RetryAfter as exc:
                self._requested.discard(user_id)
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
                    self._requested.discard(user_id)
                    continue
                return self._outcome(user_id, DeliveryStatus.UNCONFIRMED, "Timed out")
            except NetworkError as exc:
                if _may_have_arrived(exc):
                    return self._outcome(user_id, DeliveryStatus.UNCONFIRMED, exc.message)
                self._requested.discard(user_id)
                network += 1
                if network >= policy.network_attempts:
                    return self._outcome(user_id, DeliveryStatus.FAILED, exc.message)
                await asyncio.sleep(policy.backoff * 2 ** (network - 1))
                continue
            except TelegramError as exc:
                return self._outcome(user_id, DeliveryStatus.FAILED, exc.message)
            return self._outcome(user_id, DeliveryStatus.SENT, None, sent, self._clock())

    def _outcome(
        self,
        user_id: int,
        status: DeliveryStatus,
        error: str | None,
        telegram_message_id: int | None = None,
        sent_at: datetime | None = None,
    ) -> Outcome:
        self._requested.discard(user_id)
        return Outcome(user_id, status, telegram_message_id, error, sent_at)


async def _stop_on(stop: asyncio.Event, ledger: Ledger) -> None:
    await stop.wait()
    ledger.stop()


def _fenced(error: BaseException) -> bool:
    if isinstance(error, Fenced):
        return True
    if isinstance(error, BaseExceptionGroup):
        return any(_fenced(e) for e in error.exceptions)
    return False
