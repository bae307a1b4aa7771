"""Client-side shaping to Lark's documented frequency limits, per app and API family.

A burst is delayed instead of failing with Lark's rate-limit code. Each limit is a sliding
window (``count`` calls per ``window`` seconds): a call is scheduled at the earliest time at
which no window holds more than its count. Scheduling is FIFO per (app, family), so the
windows stay ordered and the check is O(1).

With a shared store (``budget=``, a `LimiterBudget`) the budgets are shared by every process
sending as the same apps (`rate_limit_shared`); the windows here then serve as the local
share while the store is unreachable (each limit divided by the live processes).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping

import msgspec

from lark_service.application.rate_limit_shared import SharedBudgets
from lark_service.application.rate_limit_stats import LimiterStats
from lark_service.domain.ports.limiter_budget import LimiterBudget
from lark_service.domain.ports.metrics import LimiterCounts


class Limit(msgspec.Struct, frozen=True, kw_only=True):
    """Limits of one API family; 0 means unlimited."""

    per_second: int = 0
    per_minute: int = 0
    per_subject_per_second: int = 0  # e.g. per receiver of a message

    def scaled(self, factor: float) -> Limit:
        def s(v: int) -> int:
            return max(1, round(v * factor)) if v else 0

        return Limit(
            per_second=s(self.per_second),
            per_minute=s(self.per_minute),
            per_subject_per_second=s(self.per_subject_per_second),
        )


# Lark's documented frequency limits (lark-api-reference.md §3, §6; frequency-control doc).
DEFAULT_LIMITS: dict[str, Limit] = {
    # im/v1 message create: 1000/min and 50/s per app; 5 QPS per user or chat.
    "im.message.send": Limit(per_second=50, per_minute=1000, per_subject_per_second=5),
    "im.message.write": Limit(per_second=50, per_minute=1000),
    "im.read": Limit(per_second=50, per_minute=1000),
    "im.upload": Limit(per_second=50, per_minute=1000),
    "contact": Limit(per_second=50, per_minute=1000),
    # docx block APIs: 3/s per app (and per document).
    "docx": Limit(per_second=3),
    "drive": Limit(per_second=5),
    "drive.upload": Limit(per_second=5),
    "bitable.read": Limit(per_second=20),
    "bitable.write": Limit(per_second=50),
    "sheets": Limit(per_second=100),
    "apaas": Limit(per_second=20),
}


class _Window:
    __slots__ = ("count", "log", "window")

    def __init__(self, count: int, window: float) -> None:
        self.count = count
        self.window = window
        self.log: deque[float] = deque(maxlen=count)

    def earliest(self, t: float) -> float:
        if len(self.log) < self.count:
            return t
        return max(t, self.log[0] + self.window)

    def commit(self, t: float) -> None:
        self.log.append(t)


class _Family:
    __slots__ = ("last", "limit", "prune_at", "stretch", "subjects", "windows")

    def __init__(self, limit: Limit, stretch: float) -> None:
        self.limit = limit
        self.stretch = stretch
        self.windows = [
            _Window(n, w * stretch)
            for n, w in ((limit.per_second, 1.0), (limit.per_minute, 60.0))
            if n
        ]
        self.subjects: dict[str, _Window] = {}
        self.prune_at = 10_000
        self.last = 0.0


class RateLimiter:
    """Delays calls so no family of any app exceeds its limits.

    ``budget``: a shared store; the limits then hold across every process using it.
    ``stats`` counts waits, store round trips and fallbacks (see `LimiterStats`).
    """

    def __init__(
        self,
        limits: Mapping[str, Limit] | None = None,
        *,
        scale: float = 1.0,
        margin: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        budget: LimiterBudget | None = None,
        stats: LimiterStats | None = None,
        shared: Callable[..., SharedBudgets] = SharedBudgets,
        hold_until: float = 0.0,
    ) -> None:
        base = DEFAULT_LIMITS if limits is None else limits
        self._base = base
        self._scale = scale
        self._margin = margin
        self.limits = {k: v.scaled(scale) for k, v in base.items()}
        # Windows are stretched by ``margin``: a call booked on time can leave (and reach
        # Lark) a little late, and Lark's own window is not aligned with ours.
        self._stretch = 1.0 + margin
        self._clock = clock
        self._families: dict[tuple[str, str], _Family] = {}
        self.stats = stats if stats is not None else LimiterStats()
        self.shared = (
            None if budget is None else shared(budget, margin=margin, clock=clock, stats=self.stats)
        )
        self._share: RateLimiter | None = None
        self._share_key = (0.0, 0)
        # no app call before this (a local share starting mid-run: see `local_share`)
        self._hold_until = hold_until

    def _family(self, app_id: str, family: str) -> _Family | None:
        state = self._families.get((app_id, family))
        if state is None:
            limit = self.limits.get(family)
            if limit is None:
                return None
            state = self._families[(app_id, family)] = _Family(limit, self._stretch)
            state.last = self._hold_until
        return state

    def reserve_subject(self, app_id: str, family: str, subject: str) -> float:
        """Book the subject's (receiver's) next slot; seconds to wait for it."""
        state = self._family(app_id, family)
        if state is None or not state.limit.per_subject_per_second:
            return 0.0
        now = self._clock()
        window = state.subjects.get(subject)
        if window is None:
            if len(state.subjects) > state.prune_at:
                self._prune(state, now)
                # amortised: a burst to many new receivers does not rescan on every call
                state.prune_at = max(10_000, 2 * len(state.subjects))
            window = state.subjects[subject] = _Window(
                state.limit.per_subject_per_second, state.stretch
            )
        start = window.earliest(max(now, window.log[-1] if window.log else now))
        window.commit(start)
        return start - now

    def reserve(self, app_id: str, family: str) -> float:
        """Book the app's next slot in ``family``; seconds to wait for it."""
        state = self._family(app_id, family)
        if state is None:
            return 0.0
        now = self._clock()
        start = max(now, state.last)
        for w in state.windows:
            start = w.earliest(start)
        for w in state.windows:
            w.commit(start)
        state.last = start
        return start - now

    async def acquire(self, app_id: str, family: str, subject: str | None = None) -> None:
        """Wait until a call of ``family`` for ``app_id`` (and ``subject``) may be sent.

        The subject's slot is taken first, so one busy receiver does not hold up the
        app's calls to other receivers. A subject's limit is shared by all apps (Lark: the
        bots in a chat share its 5 QPS).
        """
        shared = self.shared
        if shared is None:
            return await self._acquire_local(app_id, family, subject)
        limit = self.limits.get(family)
        if limit is None:
            return None
        started = self._clock()
        if not await shared.acquire(
            app_id,
            family,
            limit.per_second,
            limit.per_minute,
            limit.per_subject_per_second,
            subject,
        ):
            await self.local_share(shared.live)._acquire_local(app_id, family, subject)
            self.stats.fallback_calls += 1
            shared.note_local_call(app_id, family)
        self.stats.waited(app_id, family, self._clock() - started)
        return None

    def local_share(self, processes: int) -> RateLimiter:
        """This limiter's limits divided by ``processes`` (the fallback of a shared one).

        A share made for a new outage sends nothing during its first short window: the
        processes were sending at the full shared rate until now, and without the pause
        their fresh windows would all burst at once into Lark's partly drained bucket.
        """
        key = (self._scale / processes, self.stats.fallbacks)
        share = self._share
        if share is None or self._share_key != key:
            self._share_key = key
            share = self._share = RateLimiter(
                self._base,
                scale=key[0],
                margin=self._margin,
                clock=self._clock,
                hold_until=self._clock() + self._stretch,
            )
        return share

    def rate_limited(self, app_id: str, family: str, retry_after: float) -> None:
        """Lark answered 99991400 anyway: hold ``family`` of ``app_id`` for ``retry_after``
        seconds (in every process when shared) and, when shared, lower its rate a while."""
        self.stats.rate_limited += 1
        state = self._family(app_id, family)
        if state is not None:
            state.last = max(state.last, self._clock() + retry_after)
        if self._share is not None:
            self._share.rate_limited(app_id, family, retry_after)
        if self.shared is not None:
            self.shared.note_rate_limited(app_id, family, retry_after)

    def counts(self) -> LimiterCounts:
        """The shared-store counters, for metrics (all zero for the local limiter)."""
        stats = self.stats
        return LimiterCounts(
            store_round_trips=stats.round_trips,
            store_errors=stats.store_errors,
            fallbacks=stats.fallbacks,
            fallback_calls=stats.fallback_calls,
        )

    async def aclose(self) -> None:
        """Give unused shared tokens back and leave the store (no-op when local)."""
        if self.shared is not None:
            await self.shared.aclose()

    async def _acquire_local(self, app_id: str, family: str, subject: str | None) -> None:
        started = self._clock()
        if subject is not None:
            # keyed by receiver alone: the bots in a chat share its 5/s
            delay = self.reserve_subject("", family, subject)
            if delay > 0:
                await asyncio.sleep(delay)
        delay = self.reserve(app_id, family)
        if delay > 0:
            await asyncio.sleep(delay)
        self.stats.waited(app_id, family, self._clock() - started)

    @staticmethod
    def _prune(state: _Family, now: float) -> None:
        stale = [k for k, w in state.subjects.items() if not w.log or w.log[-1] < now - 1.0]
        for k in stale:
            del state.subjects[k]
