"""The ledger of one run: claims people as they are sent, records outcomes, keeps the lease.

It is the run's only database writer. A person is claimed (the message row's watermark moves
past them, in a committed write) only once a worker holds a pacer slot and asks, so after a
crash the claimed people without a recorded outcome are the sends that were under way:
requested, or answered and not written yet. Where waiting on the database for every send would
cost a share of the rate, a reserve is claimed ahead (see `Reserve`): none at the free rates.

Every write is a compare-and-set on the message row (`messages.write_ledger`): a run that lost
its lease writes nothing, and a write retried after its commit is not counted twice. A write
that cannot be made is retried with backoff and nobody new is claimed meanwhile, so sending
pauses by itself; the outcomes it carries stay in memory until it commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from bot.delivery.policy import Policy
from db.engine import engine_of
from db.models import DeliveryStatus
from db.repo import messages, users
from db.repo.messages import Outcome, Written

log = logging.getLogger(__name__)

_LEDGER_TROUBLE = (SQLAlchemyError, OSError)
_T = TypeVar("_T")


class Fenced(Exception):
    """Another process holds this message's lease now: this run must record nothing more."""


class Reserve:
    """How many people to keep claimed ahead of the workers.

    At a set rate, a fixed number (`Policy.reserve_for`: none below 40/s). Unpaced, what the
    workers take during four ledger writes, measured as they go, topped up when half is left:
    enough that no worker waits on the database, and no more.
    """

    def __init__(self, fixed: int | None, most: int) -> None:
        self._fixed = fixed
        self._most = most
        self._takes = 0
        self._since = time.monotonic()
        self._rate = 0.0
        self._write = 0.0

    @property
    def size(self) -> int:
        if self._fixed is not None:
            return self._fixed
        return min(self._most, math.ceil(self._rate * self._write * 4))

    def took(self) -> None:
        self._takes += 1

    def wrote(self, seconds: float) -> None:
        """One write took `seconds`: update the take rate and the write time it is sized by."""
        now = time.monotonic()
        if now > self._since:
            self._rate = 0.7 * self._rate + 0.3 * self._takes / (now - self._since)
        self._takes = 0
        self._since = now
        self._write = 0.7 * self._write + 0.3 * seconds


class Ledger:
    """Hands claimed people to the workers and writes what becomes of them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        message_id: int,
        epoch: int,
        seq: int,
        policy: Policy,
        reserve: int | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._message_id = message_id
        self._epoch = epoch
        self._seq = seq
        self._policy = policy
        self._sizing = Reserve(reserve, policy.reserve_max)
        self._clock = clock
        self._conn: AsyncConnection | None = None
        self._ids: deque[int] = deque()  # read ahead, not claimed
        self._reserve: deque[int] = deque()  # claimed, not taken yet
        self._claiming = 0  # people in the write being made
        self._waiters: deque[asyncio.Future[int | None]] = deque()
        self._outcomes: list[Outcome] = []
        self._oldest = 0.0  # when the oldest unwritten outcome came
        self._cursor = 0
        self._read_all = False
        self._upto = 0  # the claim watermark as written
        self._unsure: tuple[int, int] | None = None
        """(outcomes, watermark) of a write interrupted before its answer: it may have landed."""
        self._wake = asyncio.Event()
        self._closing = False
        self._stopped = False
        self._valid_until = 0.0
        self._renew_after = 0.0
        self._renewed = asyncio.Event()
        self.aborted = asyncio.Event()

    # ----- the workers' side --------------------------------------------------------------------

    async def take(self) -> int | None:
        """A claimed person to send to now; None when nobody is left or the run stops."""
        if self._stopped:
            return None
        self._sizing.took()
        if self._reserve:
            user_id = self._reserve.popleft()
            if len(self._reserve) <= self._sizing.size // 2:
                self._wake.set()
            return user_id
        if self.nobody_left():
            return None
        waiter: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake.set()
        return await waiter

    def finish(self, outcome: Outcome) -> None:
        """What happened to a person `take` gave; written with the next write."""
        if not self._outcomes:
            self._oldest = time.monotonic()
        self._outcomes.append(outcome)
        if len(self._outcomes) >= self._policy.flush_size:
            self._wake.set()

    def stop(self) -> None:
        """Claim nobody more; waiting workers get None."""
        self._stopped = True
        self._wake.set()

    def close(self) -> None:
        """The workers are done: write what is left, then `run` returns."""
        self._closing = True
        self._wake.set()

    async def lease_holds(self, stop: asyncio.Event) -> bool:
        """Wait until a send may start (the lease is surely still held); False if stopped."""
        while time.monotonic() >= self._valid_until:
            if stop.is_set() or self.aborted.is_set():
                return False
            self._renewed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._renewed.wait(), self._policy.flush_interval)
        return not self.aborted.is_set()

    def held_since(self, began: float) -> None:
        """The lease was renewed in a transaction that began at `began` (monotonic): sends may
        start until it could have run out, measured from then, less a margin for clock drift."""
        self._valid_until = began + self._policy.lease * 0.8
        self._renew_after = began + self._policy.lease * 0.4
        self._renewed.set()

    def lease_end(self) -> datetime:
        return self._clock() + timedelta(seconds=self._policy.lease)

    # ----- the writer ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Write until closed: claims for waiting workers and the reserve, outcomes within
        `flush_interval`, and a renewal when the lease is half used with nothing else to
        write (after a freeze longer than the lease nothing else would renew it)."""
        try:
            while True:
                claim = [] if self._stopped else await self._to_claim()
                now = time.monotonic()
                flush = bool(self._outcomes) and (
                    self._closing
                    or self._stopped
                    or len(self._outcomes) >= self._policy.flush_size
                    or now - self._oldest >= self._policy.flush_interval
                )
                if claim or flush or now >= self._renew_after:
                    self._claiming = len(claim)
                    await self._commit(len(self._outcomes), claim[-1] if claim else self._upto)
                    self._claiming = 0
                    self._hand_out(claim)
                if self._stopped or self.nobody_left():
                    for waiter in self._waiters:
                        if not waiter.done():
                            waiter.set_result(None)
                    self._waiters.clear()
                if self._closing and not self._outcomes:
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._next_due())
        finally:
            await self._drop_connection()

    def _next_due(self) -> float:
        due = self._renew_after
        if self._outcomes:
            due = min(due, self._oldest + self._policy.flush_interval)
        return max(0.0, due - time.monotonic())

    def nobody_left(self) -> bool:
        """Everyone has been claimed and handed out (or there was nobody)."""
        return self._read_all and not (self._ids or self._reserve or self._claiming)

    async def _to_claim(self) -> list[int]:
        """The people to claim now: one per waiting worker, and the reserve topped up once it
        is half used."""
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        want = len(self._waiters)
        size = self._sizing.size
        if len(self._reserve) <= size // 2:
            want += size - len(self._reserve)
        if want <= 0:
            return []
        if len(self._ids) < want and not self._read_all:
            await self._with_retries(self._read_ahead)
        return [self._ids.popleft() for _ in range(min(want, len(self._ids)))]

    async def _read_ahead(self) -> None:
        conn = await self._connection()
        async with conn.begin():
            pending, after = await messages.pending_after(
                conn, self._message_id, self._cursor, self._policy.read_ahead
            )
        self._ids.extend(pending)
        self._read_all = after is None
        self._cursor = after or self._cursor

    def _hand_out(self, claim: list[int]) -> None:
        for user_id in claim:
            while self._waiters and self._waiters[0].done():
                self._waiters.popleft()
            if self._waiters:
                self._waiters.popleft().set_result(user_id)
            else:
                self._reserve.append(user_id)

    async def _commit(self, count: int, upto: int) -> None:
        """Write the first `count` outcomes and claim up to `upto`, until it commits."""

        async def attempt() -> Written:
            self._unsure = (count, upto)
            began = time.monotonic()
            written = await self._write(self._outcomes[:count], upto)
            self._sizing.wrote(time.monotonic() - began)
            if written is not Written.FENCED:
                self.held_since(began)
            return written

        written = await self._with_retries(attempt)
        self._unsure = None
        if written is Written.FENCED:
            self.aborted.set()
            raise Fenced(self._message_id)
        self._upto = upto
        del self._outcomes[:count]
        if self._outcomes:
            self._oldest = time.monotonic()

    async def _write(self, batch: Sequence[Outcome], upto: int) -> Written:
        """One ledger write in its own transaction; the write number moves on unless fenced."""
        conn = await self._connection()
        blocked = [o.user_id for o in batch if o.status is DeliveryStatus.BLOCKED]
        async with conn.begin():
            written = await messages.write_ledger(
                conn, self._message_id, self._epoch, self._seq, self.lease_end(), batch, upto
            )
            if written is Written.APPLIED:
                await users.mark_blocked(conn, blocked, self._clock())
        if written is not Written.FENCED:
            self._seq += 1
        return written

    async def _connection(self) -> AsyncConnection:
        """The run's own connection: writes take no pool checkout (nor its ping)."""
        if self._conn is None:
            self._conn = await engine_of(self._sessions).connect()
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _with_retries(self, step: Callable[[], Awaitable[_T]]) -> _T:
        """Run one database step until it succeeds: a ledger write is never dropped, only
        retried with backoff, on a fresh connection."""
        delay = self._policy.ledger_backoff
        while True:
            try:
                return await step()
            except _LEDGER_TROUBLE as exc:
                log.warning(
                    "message %s: could not record outcomes (%s); retrying in %.1f s",
                    self._message_id,
                    type(exc).__name__,
                    delay,
                )
            await self._drop_connection()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._policy.ledger_backoff_max)

    # ----- leaving ------------------------------------------------------------------------------

    async def cancel_rest(self) -> int:
        """After a Stop: everyone not reached yet is cancelled, in one fenced write."""

        async def attempt() -> int:
            began = time.monotonic()
            async with self._sessions.begin() as session:
                written = await messages.write_ledger(
                    session,
                    self._message_id,
                    self._epoch,
                    self._seq,
                    self.lease_end(),
                    (),
                    self._upto,
                )
                if written is Written.FENCED:
                    raise Fenced(self._message_id)
                cancelled = await messages.cancel_rest(session, self._message_id)
            self.held_since(began)
            self._seq += 1
            return cancelled

        return await self._with_retries(attempt)

    async def salvage(self, in_flight: Iterable[int], note: str) -> int:
        """On the way out of an interrupted run: keep what is known, mark sends in doubt.

        Outcomes not written yet are, the people whose request was under way become
        unconfirmed, the claim is released (claimed people never tried stay pending for the
        next run) and so is the lease. One attempt only: if the database cannot take it, the
        next start marks the claimed people unconfirmed, which is the same bound. Returns how
        many became unconfirmed here.
        """
        await self._drop_connection()
        doubtful = [Outcome(uid, DeliveryStatus.UNCONFIRMED, None, note) for uid in in_flight]
        try:
            async with self._sessions.begin() as session:
                if self._unsure is not None:
                    count, upto = self._unsure
                    if not await self._salvage_write(session, self._outcomes[:count], upto):
                        return 0
                    del self._outcomes[:count]
                    self._upto = upto
                    self._unsure = None
                batch = [*self._outcomes, *doubtful]
                if not await self._salvage_write(session, batch, self._upto):
                    return 0
                await messages.release_claim(session, self._message_id)
                await messages.release_lease(session, self._message_id, self._epoch)
        except Exception:
            log.exception(
                "could not save the state of message %s; a restart will", self._message_id
            )
            return 0
        return len(doubtful)

    async def _salvage_write(
        self, session: AsyncSession, batch: Sequence[Outcome], upto: int
    ) -> bool:
        written = await messages.write_ledger(
            session, self._message_id, self._epoch, self._seq, self.lease_end(), batch, upto
        )
        if written is Written.FENCED:
            log.warning("message %s was taken over; leaving it to its new sender", self._message_id)
            return False
        if written is Written.APPLIED:
            blocked = [o.user_id for o in batch if o.status is DeliveryStatus.BLOCKED]
            await users.mark_blocked(session, blocked, self._clock())
        self._seq += 1
        return True
