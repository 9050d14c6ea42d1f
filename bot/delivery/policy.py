"""How a delivery retries, records and claims: one frozen policy, passed in (tests shorten it)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_RATE = 1000.0
"""The highest rate Herald sends at (paid broadcasts)."""


@dataclass(frozen=True)
class Policy:
    """Retry, ledger and lease policy; see the README's delivery section."""

    concurrency: int = 8
    retry_after_attempts: int = 5
    network_attempts: int = 3
    backoff: float = 0.5
    flush_interval: float = 0.05
    flush_size: int = 200
    ledger_backoff: float = 0.2
    ledger_backoff_max: float = 5.0
    lease: float = 5.0
    horizon: float = 0.025
    read_ahead: int = 1000
    reserve_max: int = 256

    def reserve_for(self, rate: float | None) -> int | None:
        """How many people the ledger claims ahead of the workers at a set rate: what the pace
        lets start within `horizon`: nobody below 40/s, so at the free rates only sends under
        way are ever in doubt; 25 at the paid maximum. Unpaced (None), the ledger measures
        what the workers need (see ledger.Reserve)."""
        return None if rate is None else int(min(rate, MAX_RATE) * self.horizon)
