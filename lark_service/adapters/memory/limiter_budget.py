"""The shared rate-limit store in memory: the same arithmetic as the Redis script.

Shared by several limiters in one process (tests, the bench), on an injected clock.
``available = False`` makes every exchange fail, as an unreachable Redis would.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from lark_service.domain.ports.limiter_budget import (
    BudgetExchange,
    BudgetGrant,
    BudgetRequest,
    LimiterBudget,
    LimiterBudgetUnavailable,
)

# After a rate-limit reply the budget's rate is multiplied by this (not below the floor)
# and recovers linearly by RECOVERY per second.
PENALTY_FACTOR = 0.8
PENALTY_FLOOR = 0.5
RECOVERY = 0.01
# A level this close to a whole token is that token (refills accumulate rounding errors).
EPSILON = 1e-6


class _State:
    __slots__ = ("levels", "scale", "t")

    def __init__(self, levels: list[float], t: float) -> None:
        self.levels = levels
        self.t = t
        self.scale = 1.0


class InMemoryLimiterBudget(LimiterBudget):
    """Token buckets and a membership table in a dict."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._budgets: dict[str, _State] = {}
        self._members: dict[str, float] = {}
        self.available = True
        self.exchanges = 0

    async def exchange(
        self, process_id: str, requests: Sequence[BudgetRequest], *, member_ttl: float
    ) -> BudgetExchange:
        if not self.available:
            raise LimiterBudgetUnavailable("the in-memory budget store is switched off")
        self.exchanges += 1
        now = self._clock()
        self._members[process_id] = now
        for pid, seen in list(self._members.items()):
            if seen < now - member_ttl:
                del self._members[pid]
        grants = [self._apply(r, now) for r in requests]
        return BudgetExchange(grants=grants, live=len(self._members))

    def _apply(self, req: BudgetRequest, now: float) -> BudgetGrant:
        state = self._budgets.get(req.key)
        if state is None:
            state = self._budgets[req.key] = _State([b.capacity for b in req.buckets], now)
        state.scale = min(1.0, state.scale + (now - state.t) * RECOVERY)
        elapsed = max(0.0, now - state.t)
        state.t = now
        levels = state.levels
        rates = [b.rate * state.scale for b in req.buckets]
        for i, bucket in enumerate(req.buckets):
            levels[i] = min(bucket.capacity, levels[i] + elapsed * rates[i])
            levels[i] = min(bucket.capacity, levels[i] + req.give) - req.debt
        if req.penalty > 0:
            levels[0] = min(levels[0], 0.0) - req.penalty * rates[0]
            state.scale = max(PENALTY_FLOOR, state.scale * PENALTY_FACTOR)
        granted = 0
        if req.want > 0:
            granted = max(
                0, min(req.want, req.max_grant, *(math.floor(v + EPSILON) for v in levels))
            )
            for i in range(len(levels)):
                levels[i] -= granted
        wait = 0.0
        if granted < req.want:
            wait = max(((1.0 - v) / r for v, r in zip(levels, rates, strict=True)), default=0.0)
        return BudgetGrant(granted, max(0.0, wait))

    async def leave(self, process_id: str) -> None:
        self._members.pop(process_id, None)

    async def aclose(self) -> None:
        return None
