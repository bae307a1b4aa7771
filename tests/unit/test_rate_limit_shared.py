"""The shared limiter on a virtual clock: several limiters ("processes") lease from one
in-memory store; Lark's limits are checked by the fake's own token buckets (the oracle)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from functools import partial

import pytest

from lark_service.adapters.memory.limiter_budget import InMemoryLimiterBudget
from lark_service.application.rate_limit import RateLimiter
from lark_service.application.rate_limit_shared import SharedBudgets
from lark_service.domain.ports.limiter_budget import Bucket, BudgetExchange, BudgetRequest
from lark_service.testing.fake_lark.im_rules import RateLimits
from lark_service.testing.fake_lark.models import FakeLarkError

pytestmark = pytest.mark.anyio

FAMILY = "im.message.send"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class VirtualClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _limiter(store: InMemoryLimiterBudget, clock: VirtualClock, name: str) -> RateLimiter:
    shared: Callable[..., SharedBudgets] = partial(SharedBudgets, process_id=name, background=False)
    return RateLimiter(clock=clock, budget=store, shared=shared)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class Sim:
    """Offers calls to several limiters and records when each was let through."""

    def __init__(self, limiters: list[RateLimiter], clock: VirtualClock) -> None:
        self.limiters = limiters
        self.clock = clock
        self.oracle = RateLimits({"im_rate_clock": clock})
        self.sent: list[tuple[float, int, str, str]] = []  # (time, process, app, receiver)
        self.rejected = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.dead: set[int] = set()

    def offer(self, process: int, app_id: str, receiver: str) -> None:
        async def call() -> None:
            await self.limiters[process].acquire(app_id, FAMILY, receiver)
            self.sent.append((self.clock.t, process, app_id, receiver))
            try:
                self.oracle.check(app_id, "im.message.create", receiver)
            except FakeLarkError:
                self.rejected += 1

        self.tasks.append(asyncio.get_running_loop().create_task(call()))

    async def run_until(self, end: float, offer: Callable[[float], None] | None = None) -> None:
        while self.clock.t < end:
            if offer is not None:
                offer(self.clock.t)
            await _settle()
            delays = []
            for i, limiter in enumerate(self.limiters):
                if i in self.dead:
                    continue
                assert limiter.shared is not None
                delays.append(await limiter.shared.step())
            await _settle()
            self.clock.t += min(0.01, max(0.001, min(delays)))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.mark.parametrize("processes", [4, 3, 1])
async def test_processes_keep_lark_limits_per_app_and_receiver_at_full_rate(
    processes: int,
) -> None:
    """4 processes: every receiver's tokens come from the store; 3 or fewer: a receiver's
    first message in a while is sent on a local credit, without a round trip."""
    clock = VirtualClock()
    store = InMemoryLimiterBudget(clock)
    sim = Sim([_limiter(store, clock, f"p{i}") for i in range(processes)], clock)
    apps = ["cli_a", "cli_b", "cli_c"]
    n = 0

    def offer(now: float) -> None:
        # 10x the allowed 50/s per app over the processes (20 per 40 ms and app),
        # one in ten to one shared chat, the rest to distinct users
        nonlocal n
        for _ in range(max(1, 20 // processes)):
            for p in range(processes):
                for app in apps:
                    n += 1
                    sim.offer(p, app, "oc_hot" if n % 10 == 0 else f"ou_{n}")

    start = clock.t

    def offer_every_40ms(now: float) -> None:
        if int((now - start) / 0.04) >= offer_count[0]:
            offer_count[0] += 1
            offer(now)

    offer_count = [0]
    seconds = 4.0  # the waiting calls pile up at 10x: a longer run costs quadratic time
    await sim.run_until(start + seconds, offer_every_40ms)
    await sim.stop()
    per_app = Counter(app for _, _, app, _ in sim.sent)
    hot = sum(1 for *_, r in sim.sent if r == "oc_hot")
    print(f"\nper app in {seconds:g} s: {dict(per_app)}; hot chat: {hot}; rejected: {sim.rejected}")
    assert sim.rejected == 0
    assert all(per_app[a] / seconds >= 0.9 * 50 for a in apps), per_app
    assert 0.75 * 5 * seconds <= hot <= 5 * seconds + 5  # a receiver's 5/s, shared by the apps
    trips = [lim.stats.round_trips for lim in sim.limiters]
    print(f"round trips per process: {trips}")
    if processes <= 3:  # users need no round trip; the app's batches and the hot chat do
        assert max(trips) * 2 < len(sim.sent) / processes


async def test_the_hot_path_is_local_tokens_come_in_batches() -> None:
    clock = VirtualClock()
    store = InMemoryLimiterBudget(clock)
    limiter = _limiter(store, clock, "p0")
    sent: list[float] = []

    async def call() -> None:
        await limiter.acquire("cli_a", "im.message.write")
        sent.append(clock.t)

    tasks = [asyncio.get_running_loop().create_task(call()) for _ in range(400)]
    assert limiter.shared is not None
    while clock.t < 1005.0:
        await _settle()
        clock.t += min(0.01, max(0.001, await limiter.shared.step()))
    assert len(sent) >= 0.9 * 50 * 5
    assert limiter.stats.round_trips * 5 < len(sent)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_calls_of_one_app_are_served_in_arrival_order() -> None:
    clock = VirtualClock()
    store = InMemoryLimiterBudget(clock)
    sim = Sim([_limiter(store, clock, "p0")], clock)
    for i in range(120):
        sim.offer(0, "cli_a", f"ou_{i}")
    await sim.run_until(clock.t + 3.0)
    order = [int(r[3:]) for *_, r in sim.sent]
    assert len(order) > 90
    assert order == sorted(order)


async def test_a_busy_chat_or_app_does_not_starve_the_others() -> None:
    clock = VirtualClock()
    store = InMemoryLimiterBudget(clock)
    sim = Sim([_limiter(store, clock, "p0")], clock)
    for _ in range(200):
        sim.offer(0, "cli_busy", "oc_hot")
    for i in range(400):
        sim.offer(0, "cli_busy", f"ou_{i}")
    await sim.run_until(clock.t + 0.3)
    for i in range(10):
        sim.offer(0, "cli_quiet", f"ou_q{i}")
    t0 = clock.t
    await sim.run_until(t0 + 0.5)
    quiet = [t for t, _, app, _ in sim.sent if app == "cli_quiet"]
    assert len(quiet) == 10 and max(quiet) - t0 < 0.2
    busy_users = sum(1 for *_, app, r in sim.sent if app == "cli_busy" and r != "oc_hot")
    assert busy_users > 20  # the hot chat's queue holds no app tokens
    await sim.stop()
    assert sim.rejected == 0


async def test_store_unreachable_falls_back_to_a_local_share_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    store = InMemoryLimiterBudget(clock)
    limiters = [_limiter(store, clock, f"p{i}") for i in range(4)]
    sim = Sim(limiters, clock)
    for p in range(4):
        sim.offer(p, "cli_a", f"ou_{p}")
    await sim.run_until(clock.t + 1.5)  # a heartbeat: every process knows the others
    assert len(sim.sent) == 4
    store.available = False
    caplog.set_level(logging.WARNING, "lark_service.rate_limit")
    for _ in range(3):
        for limiter in limiters:
            assert limiter.shared is not None
            await limiter.shared.step()
            clock.t += 2.0
    share = limiters[0].local_share(limiters[0].shared.live if limiters[0].shared else 1)
    assert share.limits[FAMILY].per_second == round(50 / 4)
    assert sum("unreachable" in r.message for r in caplog.records) == 4  # once per process
    # calls go through the local share (after its first window: no burst into Lark's
    # drained bucket), never fail, and are owed to the store
    assert share.reserve("cli_a", FAMILY) == pytest.approx(1.1)
    clock.t += 1.2
    await limiters[0].acquire("cli_a", FAMILY, "ou_x")
    assert limiters[0].stats.fallback_calls == 1 and limiters[0].stats.fallbacks == 1
    store.available = True
    assert limiters[0].shared is not None
    await limiters[0].shared.step()
    assert not limiters[0].shared.degraded
    assert any("reachable again" in r.message for r in caplog.records)
    state = store._budgets["a:cli_a:im.message.send"]
    assert state.levels[0] <= limiters[0].shared.app_buckets(50, 1000)[0].capacity - 1


async def test_a_dead_process_holds_at_most_one_lease() -> None:
    clock = VirtualClock()
    store = InMemoryLimiterBudget(clock)
    dead, alive = (_limiter(store, clock, n) for n in ("dead", "alive"))
    sim = Sim([dead, alive], clock)
    for i in range(60):
        sim.offer(0, "cli_a", f"ou_d{i}")
    await sim.run_until(clock.t + 0.5)
    assert dead.shared is not None and dead.shared.shares()["a:cli_a:im.message.send"] >= 0
    sim.dead.add(0)  # "dead" never runs again, holding whatever it leased
    t0 = clock.t
    for i in range(200):
        sim.offer(1, "cli_a", f"ou_a{i}")
    await sim.run_until(t0 + 4.0)
    times = [t for t, p, *_ in sim.sent if p == 1]
    late = [t for t in times if t >= t0 + 1.0]
    assert len(late) / 3.0 >= 0.9 * 50  # full rate within a second of the death
    clock.t += 6.0
    assert alive.shared is not None
    await alive.shared.step()
    assert alive.shared.live == 1  # its membership expired
    await sim.stop()


async def test_a_rate_limit_reply_pauses_the_budget_in_every_process() -> None:
    clock = VirtualClock()
    store = InMemoryLimiterBudget(clock)
    a, b = (_limiter(store, clock, n) for n in ("a", "b"))
    sim = Sim([a, b], clock)
    sim.offer(0, "cli_a", "ou_1")
    await sim.run_until(clock.t + 0.1)
    a.rate_limited("cli_a", FAMILY, 2.0)
    await sim.run_until(clock.t + 0.05)
    t0 = clock.t
    for i in range(5):
        sim.offer(1, "cli_a", f"ou_b{i}")
    await sim.run_until(t0 + 3.0)
    first = min(t for t, p, *_ in sim.sent if p == 1)
    assert first >= t0 + 1.8
    assert a.stats.rate_limited == 1
    await sim.stop()


async def test_closing_returns_unused_tokens() -> None:
    clock = VirtualClock()
    store = InMemoryLimiterBudget(clock)
    a = _limiter(store, clock, "a")
    sim = Sim([a], clock)
    sim.offer(0, "cli_a", "ou_1")
    await sim.run_until(clock.t + 0.02)
    assert a.shared is not None
    held = a.shared.shares()["a:cli_a:im.message.send"]
    assert held > 0
    level = store._budgets["a:cli_a:im.message.send"].levels[0]
    await a.aclose()
    assert store._budgets["a:cli_a:im.message.send"].levels[0] >= level + held
    assert "a" not in store._members


async def test_memory_store_buckets_grant_wait_give_and_debt() -> None:
    clock = VirtualClock()
    store = InMemoryLimiterBudget(clock)
    buckets = (Bucket(10.0, 5.0),)
    ask = partial(BudgetRequest, key="k", buckets=buckets)
    reply = await store.exchange("p", [ask(want=8, max_grant=8)], member_ttl=5)
    assert reply.grants[0].granted == 5 and reply.live == 1
    reply = await store.exchange("p", [ask(want=1, max_grant=1)], member_ttl=5)
    assert reply.grants[0].granted == 0 and reply.grants[0].wait == pytest.approx(0.1)
    await store.exchange("p", [ask(give=3)], member_ttl=5)
    reply = await store.exchange("q", [ask(want=4, max_grant=2)], member_ttl=5)
    assert reply.grants[0].granted == 2 and reply.live == 2
    await store.exchange("p", [ask(debt=5)], member_ttl=5)
    clock.t += 0.3
    reply = await store.exchange("p", [ask(want=1, max_grant=1)], member_ttl=5)
    assert reply.grants[0].granted == 0  # 1 - 5 + 3 tokens refilled: still short
    clock.t += 10
    reply = await store.exchange("p", [], member_ttl=5)
    assert reply.live == 1  # q's heartbeat expired


async def test_the_background_exchanger_serves_calls_without_being_driven() -> None:
    clock = VirtualClock()
    store = InMemoryLimiterBudget(clock)
    limiter = RateLimiter(clock=clock, budget=store)
    await asyncio.wait_for(
        asyncio.gather(*(limiter.acquire("cli_a", FAMILY, f"ou_{i}") for i in range(20))), 5
    )
    assert limiter.stats.round_trips >= 1 and store.exchanges >= 1
    await limiter.aclose()


class BrokenBudget(InMemoryLimiterBudget):
    async def exchange(self, *args: object, **kw: object) -> BudgetExchange:
        raise RuntimeError("a bug, not an outage")


async def test_a_failing_exchanger_sends_waiting_calls_to_the_local_share(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    limiter = RateLimiter(clock=clock, budget=BrokenBudget(clock))
    task = asyncio.get_running_loop().create_task(limiter.acquire("cli_a", FAMILY, "ou_1"))
    await _settle()
    assert limiter.shared is not None and limiter.shared.degraded
    assert limiter.stats.store_errors == 1 and limiter.stats.fallbacks == 1
    assert "exchanger failed" in caplog.text
    assert limiter.shared.waiting() == 0  # no call left waiting for the store
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await limiter.aclose()
