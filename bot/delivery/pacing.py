"""Keeps sends under a rate in every one-second window and honours Telegram's pauses."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


class Pacer:
    """Spaces send starts evenly and keeps every sliding second one send under `rate`.

    Telegram counts arrivals, not starts, and the network moves requests closer together now and
    then; the one-send headroom absorbs a full send interval of such jitter, so arrivals stay
    within `rate` while the achieved pace stays within 5% of it. `pause(seconds)` (from a 429's
    retry_after) holds every caller until the pause has passed.
    """

    SLICE = 0.25
    WINDOW = 1.0 + 1e-6
    """One second, and a hair more: float rounding must never let a start leave it early."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        headroom: int = 1,
    ) -> None:
        self._rate = rate
        self._clock = clock
        self._sleep = sleep
        self._interval = 1.0 / rate if rate else 0.0
        self._burst = max(1, int(rate) - headroom) if rate else 0
        self._window = self.WINDOW
        self._starts: deque[float] = deque()
        self._next = 0.0
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    @property
    def rate(self) -> float | None:
        return self._rate

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _wait_needed(self, now: float) -> float:
        wait = self._paused_until - now
        if self._rate:
            wait = max(wait, self._next - now)
            if len(self._starts) >= self._burst:
                wait = max(wait, self._starts[0] + self._window - now)
        return wait

    async def acquire(self, stop: asyncio.Event | None = None) -> bool:
        """Wait for this caller's turn to start a send; False if `stop` was set meanwhile.

        Waits are cut into short slices so that a Stop during a long 429 pause takes effect
        at once rather than when the pause ends.
        """
        if not self._rate and self._paused_until <= self._clock():
            return stop is None or not stop.is_set()
        async with self._lock:
            while True:
                if stop is not None and stop.is_set():
                    return False
                now = self._clock()
                while self._starts and self._starts[0] + self._window <= now:
                    self._starts.popleft()
                wait = self._wait_needed(now)
                if wait <= 0:
                    break
                await self._sleep(min(wait, self.SLICE))
            if self._rate:
                self._next = max(now, self._next) + self._interval
                self._starts.append(now)
        return True
