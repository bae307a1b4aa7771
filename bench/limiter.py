"""The shared rate limiter's cost: CPU per call and sends/s, shared (Redis) vs local.

Three limiters: local (per process); shared, this process alone (a receiver's first message
in a while goes on a local credit, no round trip); shared as one of 4 live processes (three
pretend members heartbeated into Redis: no local credits, every receiver's token comes from
the store — the costliest case). App limits are scaled up so they shape nothing; receivers
keep their 5/s, and every call goes to a new receiver.

1. ``acquire`` alone: CPU per call in this process and in Redis, and round trips.
2. Sends: one process, 20 apps, ``--sends`` send_text at concurrency 100 through the real
   client and transport, fake Lark in its own process on another core: sends/s and client
   CPU per send, and the ratios to local. Target: CPU per send <= 1.2x local.
3. Store round trip: one budget exchange on Redis (the Lua script) vs the cheapest
   PostgreSQL equivalent (one autocommit ``UPDATE ... RETURNING`` on a hot row), sequential
   latency and from 8 concurrent connections on the same row.

Rounds are interleaved and medians reported: the machine may be shared.
Run: ``python bench/limiter.py [--sends 4000] [--rounds 3]`` (Redis at 127.0.0.1:6379,
PostgreSQL at 127.0.0.1:5432 as postgres; the PostgreSQL part is skipped if unreachable).
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
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import print_table
from bench.throughput import APPS, CONCURRENCY, _free_port, _pin, _serve, _wait_for

T = TypeVar("T", tuple[float, float, int], tuple[float, float, float, int])
REDIS_URL = os.environ.get("LARK_SERVICE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get(
    "LARK_SERVICE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


MODES = {0: "local", 1: "shared, 1 process", 4: "shared, 1 of 4 processes"}


def _prefix() -> str:
    return f"bench-{uuid.uuid4().hex[:8]}"


def _budget(prefix: str) -> object:
    from lark_service.adapters.shared_limits import open_redis_budget

    return open_redis_budget(f"{REDIS_URL}?key_prefix={prefix}")


def _limits(scale: int) -> dict[str, Any]:
    """The app limits x ``scale`` (so that they shape nothing) but each receiver's own 5/s:
    the receiver path (local credits or the store) is what costs."""
    from lark_service.application.rate_limit import DEFAULT_LIMITS, Limit

    return {
        k: Limit(
            per_second=v.per_second * scale,
            per_minute=v.per_minute * scale,
            per_subject_per_second=v.per_subject_per_second,
        )
        for k, v in DEFAULT_LIMITS.items()
    }


async def _other_replicas(prefix: str, n: int) -> None:
    """Heartbeat ``n`` pretend processes (live for 5 s): with 4 live processes every
    receiver's token comes from the store (no local credits), the costliest case."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    sec, usec = await client.time()
    now = sec + usec / 1e6
    await client.zadd(prefix + "{rl}:members", {f"pretend-{i}": now for i in range(n)})
    await client.aclose()


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


async def bench_acquire(n: int, mode: int) -> tuple[float, float, int]:
    """(CPU s per call, Redis CPU s per call, round trips) for ``n`` acquires."""
    from lark_service.application.rate_limit import RateLimiter

    prefix = _prefix()
    budget: Any = _budget(prefix) if mode else None
    limiter = RateLimiter(_limits(1000), budget=budget)
    apps = [a for a, _ in APPS]

    async def call(i: int) -> None:
        await limiter.acquire(apps[i % 20], "im.message.send", f"ou_{i}")

    if mode > 1:
        await _other_replicas(prefix, mode - 1)
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


def run_sends(base_url: str, n: int, mode: int) -> tuple[float, float, float, int]:
    """(wall s, client CPU s, Redis CPU s, round trips) for ``n`` sends."""
    from lark_service.application import MessagingClient
    from lark_service.application.rate_limit import RateLimiter
    from lark_service.domain import AppConfig
    from lark_service.entrypoints.embed import open_pool

    apps = [AppConfig(app_id=a, app_secret=s) for a, s in APPS]
    result = (0.0, 0.0, 0.0, 0)

    async def main() -> None:
        nonlocal result
        prefix = _prefix()
        budget: Any = _budget(prefix) if mode else None
        limiter = RateLimiter(_limits(10), budget=budget)
        if mode > 1:
            await _other_replicas(prefix, mode - 1)
        async with open_pool(apps=apps, base_url=base_url, limiter=limiter) as pool:
            client = MessagingClient(pool)

            def send(tag: str) -> Callable[[int], Awaitable[object]]:
                return lambda i: client.send_text(
                    f"ou_{tag}{i}", "m", receive_id_type="open_id", app_id=APPS[i % 20][0]
                )

            await _drive(400, send("warm"), CONCURRENCY)
            if mode > 1:
                await _other_replicas(prefix, mode - 1)
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
    store = open_redis_budget(f"{REDIS_URL}?key_prefix={_prefix()}")
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
    stores = [open_redis_budget(f"{REDIS_URL}?key_prefix={_prefix()}") for _ in range(8)]
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

    # interleaved rounds, medians: this machine is shared, and noise hits all modes alike
    acq: dict[int, list[tuple[float, float, int]]] = {m: [] for m in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            acq[mode].append(asyncio.run(bench_acquire(args.acquires, mode)))
    acquire = {m: _median(r) for m, r in acq.items()}
    print_table(
        f"acquire() alone: {args.acquires} calls, 20 apps, a new receiver per call "
        f"(median of {args.rounds})",
        ["limiter", "client CPU/call", "Redis CPU/call", "round trips"],
        [
            (MODES[m], f"{c * 1e6:.1f} us", f"{r * 1e6:.1f} us" if m else "-", t)
            for m, (c, r, t) in acquire.items()
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
        runs: dict[int, list[tuple[float, float, float, int]]] = {m: [] for m in MODES}
        for _ in range(args.rounds):
            for mode in MODES:
                runs[mode].append(run_sends(base_url, args.sends, mode))
    finally:
        server.terminate()
        server.join()
    sends = {m: _median(r) for m, r in runs.items()}
    lw, lc, _, _ = sends[0]
    print_table(
        f"one process, 20 apps, {args.sends} sends to distinct users at concurrency "
        f"{CONCURRENCY} (median of {args.rounds} by CPU)",
        ["limiter", "sends/s", "client CPU/send", "Redis CPU/send", "round trips", "vs local"],
        [
            (
                MODES[m],
                f"{args.sends / w:,.0f}",
                f"{c / args.sends * 1e6:.0f} us",
                f"{r / args.sends * 1e6:.1f} us" if m else "-",
                t,
                f"CPU {c / lc:.2f}x, sends/s {lw / w:.2f}x" if m else "-",
            )
            for m, (w, c, r, t) in sends.items()
        ],
    )
    print("\ntarget: CPU per send of the shared limiter <= 1.2x the local one")
    rows = asyncio.run(bench_store_round_trip(2000))
    print_table(
        "store round trip (one budget)",
        ["store", "sequential latency", "8 connections, same key"],
        rows,
    )


if __name__ == "__main__":
    main()
