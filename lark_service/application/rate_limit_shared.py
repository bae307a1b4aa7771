"""Budgets shared by every process sending as the same apps: leases from a shared store.

Each budget (an app's API family; a receiver) is a token bucket in the shared store
(`LimiterBudget`). A process leases tokens in batches and spends them locally, so the hot
path is a counter decrement; one background task (the *exchanger*) talks to the store, one
round trip at a time carrying every budget that needs tokens, returning unused tokens and
heartbeating. Leased tokens are valid for ``lease_ttl`` seconds; the bucket's capacity is
lowered by what one lease can hold back, so "taken from the store" and "sent" may differ by
up to ``lease_ttl`` without exceeding Lark's bucket.

A receiver's first message in a while needs no store at all: a fifth of each receiver's
limit is split between the live processes as local credits (see `_local_credit`).

Waiting calls queue per budget in order of arrival at the limiter (a heap on a sequence
number), so within one app an early caller is served before later ones, and a call waiting
for a busy receiver holds no app token. Budgets are independent: one busy app or chat does
not slow another.

When the store does not answer within its deadline, waiting calls and new ones go to a local
`RateLimiter` scaled to 1/N of each budget (N: the live processes last reported by the
store), logged once per outage; the store is probed again every ``probe_interval``. What was
sent meanwhile is reported as debt when the store is back. A process that dies holding
tokens loses at most one lease (``lease_ttl`` seconds of its share): the buckets refill on
their own, and its heartbeat expires after ``member_ttl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import os
import uuid
from collections import deque
from collections.abc import Callable, Mapping

from lark_service.application.rate_limit_stats import LimiterStats
from lark_service.domain.ports.limiter_budget import (
    Bucket,
    BudgetRequest,
    LimiterBudget,
    LimiterBudgetUnavailable,
)

log = logging.getLogger("lark_service.rate_limit")

# How much later than the lease's end a token may still reach Lark (network, scheduling).
SEND_SLACK = 0.1
# The part of each receiver's limit spent as per-process credits, without the store.
LOCAL_CREDIT = 0.2


class _Lease:
    """This process's side of one shared budget."""

    __slots__ = (
        "app_id",
        "batch",
        "buckets",
        "chunks",
        "debt",
        "give",
        "key",
        "last_used",
        "limit",
        "max_grant",
        "penalty",
        "prefetch",
        "retry_at",
        "tokens",
        "waiters",
    )

    def __init__(
        self, key: str, app_id: str, buckets: tuple[Bucket, ...], *, prefetch: bool
    ) -> None:
        self.key = key
        self.app_id = app_id
        self.buckets = buckets
        self.prefetch = prefetch
        self.chunks: deque[list[float]] = deque()  # [tokens, expires]
        self.tokens = 0  # held: the sum over chunks
        self.waiters: list[tuple[int, asyncio.Future[bool]]] = []
        self.give = 0
        self.debt = 0
        self.penalty = 0.0
        self.retry_at = 0.0
        self.last_used = 0.0
        self.batch = 1
        self.max_grant = 1
        self.limit = 0  # a receiver's per-second limit

    def held(self) -> int:
        return self.tokens

    def add(self, tokens: int, expires: float, *, first: bool = False) -> None:
        if first:
            self.chunks.appendleft([float(tokens), expires])
        else:
            self.chunks.append([float(tokens), expires])
        self.tokens += tokens

    def drop(self) -> int:
        """Forget every held token; how many there were."""
        held, self.tokens = self.tokens, 0
        self.chunks.clear()
        return held

    def expire(self, now: float) -> None:
        while self.chunks and self.chunks[0][1] <= now:
            n = int(self.chunks.popleft()[0])
            self.give += n
            self.tokens -= n

    def take(self) -> bool:
        if not self.tokens:
            return False
        chunk = self.chunks[0]
        chunk[0] -= 1
        self.tokens -= 1
        if chunk[0] <= 0:
            self.chunks.popleft()
        return True

    def idle(self) -> bool:
        return not (self.waiters or self.chunks or self.give or self.debt or self.penalty)


class SharedBudgets:
    """The shared side of `RateLimiter` (see the module docstring)."""

    def __init__(
        self,
        budget: LimiterBudget,
        *,
        margin: float,
        clock: Callable[[], float],
        stats: LimiterStats,
        process_id: str | None = None,
        lease_ttl: float = 0.25,
        member_ttl: float = 5.0,
        heartbeat: float = 1.0,
        retry_interval: float = 0.05,
        probe_interval: float = 1.0,
        background: bool = True,
    ) -> None:
        self.budget = budget
        self.process_id = process_id or f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._stretch = 1.0 + margin
        self._clock = clock
        self.stats = stats
        self.lease_ttl = lease_ttl
        self.member_ttl = member_ttl
        self._heartbeat = heartbeat
        self._retry_interval = retry_interval
        self._probe_interval = probe_interval
        self._background = background
        self._leases: dict[str, _Lease] = {}
        self._credits: dict[str, float] = {}  # receiver -> when its next local credit is due
        self._credits_prune_at = 10_000
        self._active: set[_Lease] = set()
        self._seq = itertools.count()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_heartbeat = 0.0
        self._closed = False
        self.live = 1
        self._live_known = False  # no local credits before the store has told us ``live``
        self.degraded = False

    # -- budgets -------------------------------------------------------------------------

    def app_buckets(self, per_second: int, per_minute: int) -> tuple[Bucket, ...]:
        """Lark's app limits as buckets: the rate lowered by the margin, the capacity by
        what a lease may hold back (tokens taken now may be sent ``lease_ttl`` later)."""
        out = []
        for count, window in ((per_second, 1.0), (per_minute, 60.0)):
            if count:
                rate = count / (window * self._stretch)
                capacity = max(1.0, math.floor(count - rate * (self.lease_ttl + SEND_SLACK)))
                out.append(Bucket(rate, capacity))
        return tuple(out)

    def subject_buckets(self, per_second: int) -> tuple[Bucket, ...]:
        # No burst: a receiver's token is taken before the app's, so its send may come a
        # little later; a capacity of one keeps even bunched sends within Lark's limit.
        # The store holds the receiver's limit but for the local credits (`_local_credit`).
        share = 1 - LOCAL_CREDIT if self._credits_on(per_second) else 1.0
        return (Bucket(per_second * share / self._stretch, 1.0),)

    def _credits_on(self, per_second: int) -> bool:
        return self._live_known and self.live <= per_second - 2

    def _local_credit(self, family: str, subject: str, per_second: int) -> bool:
        """Take this process's own credit for ``subject``, if it has one now.

        Most receivers get one message now and then: asking the store for each would cost
        a round trip per call. So ``LOCAL_CREDIT`` of each receiver's limit is split
        between the live processes as credits of one message each (e.g. 5/s, 4 processes:
        one message per 4.4 s per process), spent without the store; the store's bucket
        holds the rest. Only while the processes' credits plus the store's one token leave
        a token of Lark's burst unused (live <= limit - 2), so bunched sends stay within it.
        """
        if not self._credits_on(per_second):
            return False
        live = self.live
        now = self._clock()
        key = f"{family}:{subject}"
        credits = self._credits
        if credits.get(key, 0.0) > now:
            return False
        if len(credits) > self._credits_prune_at:
            for k in [k for k, t in credits.items() if t <= now]:
                del credits[k]
            self._credits_prune_at = max(10_000, 2 * len(credits))
        credits[key] = now + live * self._stretch / (per_second * LOCAL_CREDIT)
        return True

    def _app_lease(self, app_id: str, family: str, per_second: int, per_minute: int) -> _Lease:
        key = f"a:{app_id}:{family}"
        lease = self._leases.get(key)
        if lease is None:
            buckets = self.app_buckets(per_second, per_minute)
            lease = self._leases[key] = _Lease(key, app_id, buckets, prefetch=True)
            self._size(lease)
        return lease

    def _subject_lease(self, family: str, subject: str, per_second: int) -> _Lease:
        # keyed by receiver alone: the bots in a chat share its limit
        key = f"r:{family}:{subject}"
        lease = self._leases.get(key)
        if lease is None:
            buckets = self.subject_buckets(per_second)
            lease = self._leases[key] = _Lease(key, "", buckets, prefetch=False)
            lease.limit = per_second
        return lease

    # -- the hot path --------------------------------------------------------------------

    async def acquire(
        self,
        app_id: str,
        family: str,
        per_second: int,
        per_minute: int,
        subject_limit: int,
        subject: str | None,
    ) -> bool:
        """Wait for this call's tokens; ``False``: use the local share instead (no store)."""
        loop = asyncio.get_running_loop()
        if self._closed or self.degraded or (self._loop is not None and loop is not self._loop):
            return False
        self._ensure_started(loop)
        seq = next(self._seq)
        if (
            subject is not None
            and subject_limit
            and not self._local_credit(family, subject, subject_limit)
        ):
            lease = self._subject_lease(family, subject, subject_limit)
            if not await self._take(lease, seq):
                return False
        if per_second or per_minute:
            lease = self._app_lease(app_id, family, per_second, per_minute)
            if not await self._take(lease, seq):
                return False
        return True

    async def _take(self, lease: _Lease, seq: int) -> bool:
        now = self._clock()
        lease.last_used = now
        if not lease.waiters:
            lease.expire(now)
            if lease.take():
                if lease.prefetch and lease.held() < lease.batch:
                    self._mark(lease)  # top up before it runs dry
                return True
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        heapq.heappush(lease.waiters, (seq, fut))
        self._mark(lease)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.result():
                lease.add(1, self._clock() + self.lease_ttl, first=True)
            raise

    def _mark(self, lease: _Lease) -> None:
        self._active.add(lease)
        if self._wakeup is not None:
            self._wakeup.set()

    def note_rate_limited(self, app_id: str, family: str, retry_after: float) -> None:
        """Lark answered 99991400 anyway: pause the budget everywhere, lower its rate."""
        lease = self._leases.get(f"a:{app_id}:{family}")
        if lease is None:
            return
        lease.penalty = max(lease.penalty, retry_after)
        lease.give += lease.drop()
        self._mark(lease)

    def note_local_call(self, app_id: str, family: str) -> None:
        """A call shaped by the local share while the store was away: owed to the store."""
        lease = self._leases.get(f"a:{app_id}:{family}")
        if lease is not None:
            lease.debt = min(lease.debt + 1, int(lease.buckets[0].capacity))
            self._active.add(lease)

    # -- the exchanger -------------------------------------------------------------------

    def _ensure_started(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is None:
            self._loop = loop
            self._wakeup = wakeup = asyncio.Event()
            if self._background:
                self._task = loop.create_task(self._run(wakeup), name="lark-rate-limit-exchanger")

    async def _run(self, wakeup: asyncio.Event) -> None:
        while not self._closed:
            wakeup.clear()
            try:
                delay = await self.step()
            except Exception as exc:  # a bug here must not strand the waiting calls
                log.exception("rate-limit exchanger failed")
                self.stats.store_errors += 1
                self._fall_back(type(exc).__name__)
                self._next_heartbeat = self._clock() + self._probe_interval
                delay = self._probe_interval
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await wakeup.wait()

    async def step(self) -> float:
        """One exchange with the store if anything is due; seconds until the next is."""
        now = self._clock()
        if self.degraded and now < self._next_heartbeat:
            return self._next_heartbeat - now
        leases, requests = [], []
        for lease in list(self._active):
            lease.expire(now)
            self._dispense(lease)
            want = 0
            if now >= lease.retry_at:
                short = len(lease.waiters) - lease.held()
                if short > 0:
                    want = short + (lease.batch if lease.prefetch else 0)
                elif (
                    lease.prefetch
                    and lease.held() < lease.batch
                    and (now - lease.last_used < self.lease_ttl)
                ):
                    want = lease.batch
            if not (want or lease.give or lease.debt or lease.penalty):
                if lease.idle():
                    self._forget(lease)
                continue
            leases.append(lease)
            requests.append(
                BudgetRequest(
                    key=lease.key,
                    buckets=lease.buckets,
                    want=min(want, lease.max_grant if lease.prefetch else want),
                    max_grant=lease.max_grant if lease.prefetch else want,
                    give=lease.give,
                    debt=lease.debt,
                    penalty=lease.penalty,
                )
            )
        if not requests and now < self._next_heartbeat:
            return self._next_wake(now)
        self.stats.round_trips += 1
        try:
            reply = await self.budget.exchange(
                self.process_id, requests, member_ttl=self.member_ttl
            )
        except LimiterBudgetUnavailable as exc:
            self.stats.store_errors += 1
            self._fall_back(str(exc))
            self._next_heartbeat = self._clock() + self._probe_interval
            return self._probe_interval
        if self.degraded:
            self.degraded = False
            log.warning("rate-limit store reachable again; budgets are shared again")
        now = self._clock()
        self._next_heartbeat = now + self._heartbeat
        live = max(1, reply.live)
        self._live_known = True
        if live != self.live:
            self.live = live
            for lease in self._leases.values():
                self._size(lease)
                if not lease.prefetch:  # a receiver: its store share depends on ``live``
                    lease.buckets = self.subject_buckets(lease.limit)
        for lease, req, grant in zip(leases, requests, reply.grants, strict=True):
            self.stats.tokens_returned += req.give
            lease.give -= req.give
            lease.debt -= req.debt
            if req.penalty >= lease.penalty:
                lease.penalty = 0.0
            if grant.granted:
                self.stats.tokens_granted += grant.granted
                lease.add(grant.granted, now + self.lease_ttl)
                self._dispense(lease)
            if grant.granted < req.want:
                # short: ask again when about a batch has accumulated, so that a saturated
                # budget costs a round trip per batch, not per token
                batch_time = (lease.batch - 1) / min(b.rate for b in lease.buckets)
                least = self._retry_interval if lease.prefetch else 0.005
                lease.retry_at = now + max(grant.wait, least, batch_time)
        return self._next_wake(now)

    def _size(self, lease: _Lease) -> None:
        # A batch is this process's fair share of what the budget yields during one lease;
        # one grant never exceeds its share of the bucket's capacity.
        rate = min(b.rate for b in lease.buckets)
        capacity = min(b.capacity for b in lease.buckets)
        lease.batch = max(1, math.ceil(rate * self.lease_ttl / self.live))
        lease.max_grant = max(1, math.ceil(capacity / self.live))

    def _dispense(self, lease: _Lease) -> None:
        while lease.waiters:
            fut = lease.waiters[0][1]
            if fut.done():
                heapq.heappop(lease.waiters)
                continue
            if not lease.take():
                return
            heapq.heappop(lease.waiters)
            fut.set_result(True)

    def _forget(self, lease: _Lease) -> None:
        self._active.discard(lease)
        if not lease.prefetch:  # receivers are many; apps are few and keep their debt
            self._leases.pop(lease.key, None)

    def _next_wake(self, now: float) -> float:
        wake = self._next_heartbeat
        for lease in self._active:
            if lease.waiters or lease.give or lease.debt or lease.penalty:
                wake = min(wake, lease.retry_at)
            if lease.chunks:
                wake = min(wake, lease.chunks[0][1])
        return max(0.0, wake - now)

    def _fall_back(self, reason: str) -> None:
        if not self.degraded:
            self.degraded = True
            self.stats.fallbacks += 1
            log.warning(
                "rate-limit store unreachable (%s): each budget falls back to a local share "
                "of 1/%d until it answers again",
                reason,
                self.live,
            )
        self._release_waiters()

    def _release_waiters(self) -> None:
        """Send every waiting call to the local share."""
        for lease in self._leases.values():
            lease.drop()  # taken from the store already; not ours to spend now
            lease.give = 0
            waiters, lease.waiters = lease.waiters, []
            for _, fut in waiters:
                if not fut.done():
                    fut.set_result(False)

    async def aclose(self) -> None:
        """Stop the exchanger, hand back unused tokens and leave the membership."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._loop is asyncio.get_running_loop() and not self.degraded:
            returns = []
            for lease in self._leases.values():
                lease.expire(self._clock())
                give = lease.give + lease.held()
                if give:
                    returns.append(BudgetRequest(key=lease.key, buckets=lease.buckets, give=give))
            with contextlib.suppress(LimiterBudgetUnavailable):
                if returns:
                    await self.budget.exchange(self.process_id, returns, member_ttl=self.member_ttl)
            await self.budget.leave(self.process_id)
        self._release_waiters()

    def waiting(self) -> int:
        """Calls waiting for tokens from the store (a queue-depth gauge)."""
        return sum(len(lease.waiters) for lease in self._leases.values())

    def shares(self) -> Mapping[str, int]:
        """Tokens held per budget (for tests and debugging)."""
        return {k: v.held() for k, v in self._leases.items()}
