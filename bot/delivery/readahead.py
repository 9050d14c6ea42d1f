"""Per-recipient data for a run, read in blocks ahead of sending: claims come in id order, so one
query serves the next few hundred sends and sending never waits on one query per person."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

AHEAD = 512
"""People read per query."""

V = TypeVar("V")


class ReadAhead(Generic[V]):
    """`load(from_id, limit)` gives the values of the next people from `from_id` on, in id
    order; `missing(id)` stands in for someone the query did not return."""

    def __init__(
        self,
        load: Callable[[int, int], Awaitable[list[tuple[int, V]]]],
        missing: Callable[[int], V],
    ) -> None:
        self._load = load
        self._missing = missing
        self._known: dict[int, V] = {}
        self._lock = asyncio.Lock()

    async def get(self, user_id: int) -> V:
        if user_id in self._known:
            return self._known.pop(user_id)
        async with self._lock:
            if user_id not in self._known:
                rows = await self._load(user_id, AHEAD)
                self._known = {k: v for k, v in self._known.items() if k > user_id}
                self._known.update(rows)
        return self._known.pop(user_id) if user_id in self._known else self._missing(user_id)
