"""The shared rate limiter's cost: CPU per call and sends/s, shared (Redis) vs local.

1. ``acquire`` alone: CPU per call of the limiter, 20 apps, a new receiver per call (the
   worst case: every call needs a receiver token from the store), limits scaled so that
   nothing waits. Target: shared <= 1.2x local *per send* (part 2); the limiter alone is
   printed to show where the cost is.
2. Sends: one process, 20 apps, ``--sends`` send_text at concurrency 100 to distinct users
   through the real client and transport, fake Lark in its own process on another core;
   limits x10 (500/s per app) so they shape nothing but all of the machinery runs.
   Reported: sends/s and client CPU per send, local vs shared, and their ratios.
3. Store round trip: one budget exchange on Redis (the Lua script) vs the cheapest
   PostgreSQL equivalent (one autocommit ``UPDATE ... RETURNING`` on a hot row), sequential
   latency and from 8 concurrent connections on the same row.

Run: ``python bench/limiter.py [--sends 4000]`` (Redis at 127.0.0.1:6379, PostgreSQL at
127.0.0.1:5432 as postgres; the PostgreSQL part is skipped if it cannot connect).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import print_table
from bench.throughput import APPS, CONCURRENCY, _free_port, _pin, _serve, _wait_for

T = TypeVar("T", tuple[float, float, int], tuple[float, float, float, int])
REDIS_URL = os.environ.get("LARK_SERVICE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get(
    "LARK_SERVICE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _prefix() -> str:
    return f"{REDIS_URL}?key_prefix=bench-{uuid.uuid4().hex[:8]}"


async def _redis_cpu() -> float:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    info = await client.info("cpu")
    await client.aclose()
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def _drive(n: int, call: Callable[[int], Awaitable[object]], concurrency: int) -> None:
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await call(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def bench_acquire(n: int, shared: bool) -> tuple[float, float, int]:
    """(CPU s per call, Redis CPU s per call, round trips) for ``n`` acquires."""
    from lark_service.adapters.shared_limits import open_redis_budget
    from lark_service.application.rate_limit import RateLimiter

    budget = open_redis_budget(_prefix()) if shared else None
    limiter = RateLimiter(scale=1000, budget=budget)
    apps = [a for a, _ in APPS]

    async def call(i: int) -> None:
        await limiter.acquire(apps[i % 20], "im.message.send", f"ou_{i}")

    await _drive(500, call, CONCURRENCY)
    redis_before = await _redis_cpu()
    trips = limiter.stats.round_trips
    cpu = time.process_time()
    await _drive(n, call, CONCURRENCY)
    cpu = time.process_time() - cpu
    redis_cpu = await _redis_cpu() - redis_before
    trips = limiter.stats.round_trips - trips
    await limiter.aclose()
    if budget is not None:
        await budget.aclose()
    return cpu / n, redis_cpu / n, trips


def run_sends(base_url: str, n: int, shared: bool) -> tuple[float, float, float, int]:
    """(wall s, client CPU s, Redis CPU s, round trips) for ``n`` sends."""
    from lark_service.application import MessagingClient
    from lark_service.application.rate_limit import RateLimiter
    from lark_service.domain import AppConfig
    from lark_service.entrypoints.embed import open_pool

    apps = [AppConfig(app_id=a, app_secret=s) for a, s in APPS]
    result = (0.0, 0.0, 0.0, 0)

    async def main() -> None:
        nonlocal result
        budget = None
        if shared:
            from lark_service.adapters.shared_limits import open_redis_budget

            budget = open_redis_budget(_prefix())
        limiter = RateLimiter(scale=10, budget=budget)
        async with open_pool(apps=apps, base_url=base_url, limiter=limiter) as pool:
            client = MessagingClient(pool)

            def send(tag: str) -> Callable[[int], Awaitable[object]]:
                return lambda i: client.send_text(
                    f"ou_{tag}{i}", "m", receive_id_type="open_id", app_id=APPS[i % 20][0]
                )

            await _drive(400, send("warm"), CONCURRENCY)
            redis_before = await _redis_cpu()
            trips = limiter.stats.round_trips
            cpu, wall = time.process_time(), time.perf_counter()
            await _drive(n, send("m"), CONCURRENCY)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            result = (
                wall,
                cpu,
                await _redis_cpu() - redis_before,
                limiter.stats.round_trips - trips,
            )
        await limiter.aclose()
        if budget is not None:
            await budget.aclose()

    asyncio.run(main())
    return result


async def bench_store_round_trip(n: int) -> list[tuple[str, str, str]]:
    from lark_service.adapters.shared_limits import open_redis_budget
    from lark_service.domain.ports.limiter_budget import Bucket, BudgetRequest

    rows = []
    store = open_redis_budget(_prefix())
    req = [
        BudgetRequest(
            key="a:cli:im", buckets=(Bucket(1e6, 1e6), Bucket(1e6, 1e6)), want=1, max_grant=1
        )
    ]
    await store.exchange("bench", req, member_ttl=5)
    t = time.perf_counter()
    for _ in range(n):
        await store.exchange("bench", req, member_ttl=5)
    seq = (time.perf_counter() - t) / n
    stores = [open_redis_budget(_prefix()) for _ in range(8)]
    t = time.perf_counter()
    await asyncio.gather(
        *(_loop(lambda s=s: s.exchange("bench", req, member_ttl=5), n // 8) for s in stores)
    )
    conc = n / (time.perf_counter() - t)
    rows.append(
        (
            "Redis (the Lua exchange: membership + 2 buckets)",
            f"{seq * 1e6:.0f} us",
            f"{conc:,.0f}/s",
        )
    )
    for s in [store, *stores]:
        await s.aclose()
    try:
        import asyncpg
    except ImportError:
        return rows
    try:
        conns = [await asyncpg.connect(PG_URL, timeout=2) for _ in range(8)]
    except (OSError, asyncpg.PostgresError) as exc:
        rows.append(("PostgreSQL", f"skipped: {type(exc).__name__}", ""))
        return rows
    table = f"bench_budget_{uuid.uuid4().hex[:8]}"
    await conns[0].execute(
        f"CREATE UNLOGGED TABLE {table} (key text primary key, level float8, t float8)"
    )
    try:
        await conns[0].execute(f"INSERT INTO {table} VALUES ('a:cli:im', 1e12, 0)")
        sql = (
            f"UPDATE {table} SET level = level - 1, t = extract(epoch from clock_timestamp()) "
            "WHERE key = $1 RETURNING level"
        )
        for c in conns:
            await c.fetchval(sql, "a:cli:im")
        t = time.perf_counter()
        for _ in range(n):
            await conns[0].fetchval(sql, "a:cli:im")
        seq = (time.perf_counter() - t) / n
        t = time.perf_counter()
        await asyncio.gather(
            *(_loop(lambda c=c: c.fetchval(sql, "a:cli:im"), n // 8) for c in conns)
        )
        conc = n / (time.perf_counter() - t)
        rows.append(
            (
                "PostgreSQL lower bound (one UPDATE ... RETURNING, unlogged)",
                f"{seq * 1e6:.0f} us",
                f"{conc:,.0f}/s",
            )
        )
    finally:
        await conns[0].execute(f"DROP TABLE {table}")
        for c in conns:
            await c.close()
    return rows


def _median(runs: list[T]) -> T:
    """The run with the median CPU (its fields stay together)."""
    ordered = sorted(runs, key=lambda r: r[1] if len(r) == 4 else r[0])
    return ordered[len(ordered) // 2]


async def _loop(op: Callable[[], Awaitable[object]], n: int) -> None:
    for _ in range(n):
        await op()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=4000)
    parser.add_argument("--acquires", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    # interleaved rounds, medians: this machine is shared, and noise hits both alike
    acq: dict[bool, list[tuple[float, float, int]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for shared_run in (False, True):
            acq[shared_run].append(asyncio.run(bench_acquire(args.acquires, shared=shared_run)))
    local = _median(acq[False])
    shared = _median(acq[True])
    print_table(
        f"acquire() alone: {args.acquires} calls, 20 apps, a new receiver per call "
        f"(median of {args.rounds})",
        ["limiter", "client CPU/call", "Redis CPU/call", "round trips", "calls/round trip"],
        [
            ("local", f"{local[0] * 1e6:.1f} us", "-", 0, "-"),
            (
                "shared",
                f"{shared[0] * 1e6:.1f} us",
                f"{shared[1] * 1e6:.1f} us",
                shared[2],
                f"{args.acquires / max(1, shared[2]):.1f}",
            ),
        ],
    )

    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    server = ctx.Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        _wait_for(port)
        _pin(0)
        base_url = f"http://127.0.0.1:{port}"
        sends: dict[bool, list[tuple[float, float, float, int]]] = {False: [], True: []}
        for _ in range(args.rounds):
            for shared_run in (False, True):
                sends[shared_run].append(run_sends(base_url, args.sends, shared_run))
    finally:
        server.terminate()
        server.join()
    lw, lc, _, _ = _median(sends[False])
    sw, sc, src, st = _median(sends[True])
    print_table(
        f"one process, 20 apps, {args.sends} sends to distinct users at concurrency {CONCURRENCY} "
        f"(median of {args.rounds} by CPU)",
        ["limiter", "sends/s", "client CPU/send", "Redis CPU/send", "round trips"],
        [
            ("local", f"{args.sends / lw:,.0f}", f"{lc / args.sends * 1e6:.0f} us", "-", 0),
            (
                "shared (Redis)",
                f"{args.sends / sw:,.0f}",
                f"{sc / args.sends * 1e6:.0f} us",
                f"{src / args.sends * 1e6:.1f} us",
                st,
            ),
        ],
    )
    print(
        f"\nratios shared/local, same run: CPU per send {sc / lc:.2f}x (target <= 1.2x), "
        f"sends/s {lw / sw:.2f}x; the limiter alone {shared[0] / local[0]:.1f}x CPU per call "
        f"(+{(shared[0] - local[0]) * 1e6:.0f} us)"
    )
    rows = asyncio.run(bench_store_round_trip(2000))
    print_table(
        "store round trip (one budget)",
        ["store", "sequential latency", "8 connections, same key"],
        rows,
    )


if __name__ == "__main__":
    main()
