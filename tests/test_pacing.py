"""The pacer: never more than the rate in any one-second window, and nothing during a pause."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery.pacing import Pacer


class FakeTime:
    """A clock that only moves when the pacer sleeps, so tests are exact and instant."""

    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def busiest_window(starts: list[float], width: float = 1.0) -> int:
    best = 0
    j = 0
    for i, start in enumerate(starts):
        while starts[j] <= start - width:
            j += 1
        best = max(best, i - j + 1)
    return best


async def _run(rate: float, count: int, workers: int) -> list[float]:
    fake = FakeTime()
    pacer = Pacer(rate, clock=fake.clock, sleep=fake.sleep)
    starts: list[float] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            await pacer.acquire()
            starts.append(fake.now)

    share, extra = divmod(count, workers)
    await asyncio.gather(*(worker(share + (i < extra)) for i in range(workers)))
    return sorted(starts)


@settings(max_examples=40, deadline=None)
@given(
    rate=st.floats(min_value=1, max_value=1000),
    count=st.integers(min_value=1, max_value=300),
    workers=st.integers(min_value=1, max_value=16),
)
async def test_never_over_rate_in_any_window(rate: float, count: int, workers: int) -> None:
    starts = await _run(rate, count, workers)
    assert len(starts) == count
    assert busiest_window(starts) <= max(1, int(rate) - 1)
    # Even if the network pulled every send a whole interval closer, arrivals would fit the rate.
    if rate >= 2:
        assert busiest_window(starts, width=1.0 + 0.999 / rate) <= int(rate)


async def test_steady_rate_is_close_to_the_setting() -> None:
    starts = await _run(25, 500, 8)
    achieved = (len(starts) - 1) / (starts[-1] - starts[0])
    assert 0.95 * 25 <= achieved <= 25


async def test_pause_holds_every_caller() -> None:
    fake = FakeTime()
    pacer = Pacer(None, clock=fake.clock, sleep=fake.sleep)
    await pacer.acquire()
    pacer.pause(3)
    paused_at = fake.now
    await asyncio.gather(pacer.acquire(), pacer.acquire())
    assert fake.now >= paused_at + 3


async def test_unpaced_does_not_wait() -> None:
    fake = FakeTime()
    pacer = Pacer(None, clock=fake.clock, sleep=fake.sleep)
    for _ in range(1000):
        await pacer.acquire()
    assert fake.now == 100.0
