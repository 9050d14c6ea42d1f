"""Which process is active: it polls Telegram, sends and schedules; others stand by.

Processes on one database share the `active` lease. The holder renews it every third of its
length; a standby checks once a second and takes it over when it has run out, so a process
that dies (SIGKILL included) is replaced within the lease plus a second. A holder that cannot
renew in time (paused, cut off from the database) must assume it lost the role and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repo import leases

log = logging.getLogger(__name__)

ROLE = "active"


class Leadership:
    """This process's claim on the active role."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        owner: str,
        clock: Callable[[], datetime],
        lease: float = 5.0,
        poll: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._owner = owner
        self._clock = clock
        self._lease = lease
        self._poll = poll
        self._epoch: int | None = None
        self._valid_until = 0.0

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this process holds the role; False if asked to stop first."""
        told = False
        while not stop.is_set():
            began = time.monotonic()
            try:
                async with self._sessions.begin() as session:
                    self._epoch = await leases.take(
                        session, ROLE, self._owner, self._clock(), self._until()
                    )
            except SQLAlchemyError as exc:
                log.warning("could not reach the database to take the active role: %s", exc)
                self._epoch = None
            if self._epoch is not None:
                self._valid_until = began + self._lease * 0.8
                log.info("this process is the active one (epoch %s)", self._epoch)
                return True
            if not told:
                log.warning(
                    "another Herald process is active on this database; standing by to take over"
                )
                told = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll)
        return False

    async def keep(self) -> None:
        """Renew the role until it is lost; returns then (the caller must stop at once)."""
        while True:
            await asyncio.sleep(self._lease / 3)
            began = time.monotonic()
            try:
                async with self._sessions.begin() as session:
                    held = await leases.renew(
                        session, ROLE, self._owner, self._epoch or 0, self._until()
                    )
            except SQLAlchemyError as exc:
                log.warning("could not renew the active role: %s", exc)
                held = None
            if held is False:
                log.error("another process took over the active role")
                return
            if held:
                self._valid_until = began + self._lease * 0.8
            elif time.monotonic() >= self._valid_until:
                log.error("could not renew the active role in time; it may have passed on")
                return

    async def release(self) -> None:
        """Let a standby take over now instead of when the lease runs out."""
        if self._epoch is None:
            return
        try:
            async with self._sessions.begin() as session:
                await leases.release(session, ROLE, self._owner, self._epoch, self._clock())
        except SQLAlchemyError as exc:
            log.warning("could not hand the active role over: %s", exc)

    def _until(self) -> datetime:
        return self._clock() + timedelta(seconds=self._lease)
