"""The port of the shared rate-limit store: budgets shared by every process of one deployment.

A *budget* is one key (an app's API family, or one receiver) holding up to two token buckets
(e.g. 50/s and 1,000/min). Processes lease tokens from it in batches and give back what they
did not use; the store's clock is the only clock that matters, so processes need no
synchronised clocks. One `exchange` is one round trip carrying every budget a process needs
at that moment, plus its heartbeat (membership: how many processes share the budgets).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec


class Bucket(msgspec.Struct, frozen=True):
    """One limit as a token bucket: ``capacity`` tokens, refilled at ``rate`` per second."""

    rate: float
    capacity: float


class BudgetRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What one process asks of one budget in one exchange.

    ``want`` tokens (at most ``max_grant`` of them); ``give`` unused tokens handed back;
    ``debt`` tokens spent without the store (while it was unreachable); ``penalty`` seconds
    from Lark's ``x-ogw-ratelimit-reset`` after a rate-limit reply: the budget pauses that
    long and its rate is lowered for a while.
    """

    key: str
    buckets: tuple[Bucket, ...]
    want: int = 0
    max_grant: int = 0
    give: int = 0
    debt: int = 0
    penalty: float = 0.0


class BudgetGrant(msgspec.Struct, frozen=True):
    """Tokens granted; if fewer than wanted, ``wait`` seconds until one more may be."""

    granted: int
    wait: float


class BudgetExchange(msgspec.Struct, frozen=True):
    """The reply to an exchange: one grant per request, in order, and the live processes."""

    grants: list[BudgetGrant]
    live: int


class LimiterBudgetUnavailable(Exception):
    """The shared store did not answer in time (or failed); the caller falls back locally."""


class LimiterBudget(Protocol):
    """A shared store of rate-limit budgets (Redis in production, memory in tests)."""

    async def exchange(
        self, process_id: str, requests: Sequence[BudgetRequest], *, member_ttl: float
    ) -> BudgetExchange:
        """Heartbeat ``process_id`` (forgotten ``member_ttl`` seconds after its last one),
        then apply ``requests``; raises `LimiterBudgetUnavailable` within its deadline."""
        ...

    async def leave(self, process_id: str) -> None:
        """Forget ``process_id`` now (on a clean shutdown); best effort."""
        ...

    async def aclose(self) -> None: ...
