"""Token pool benchmark: ours vs lark-oapi, against the fake Lark server on loopback.

Prints: token requests per app for 1000 concurrent first calls; the longest event-loop stall
while a first token is fetched (target <= 5 ms); the longest loop block while 1,000 first
sends wait for a 100 ms token, next to a minimal single-flight client doing the same work
(``bench/token_burst.py``, run in a fresh interpreter; target <= 5 ms); the hot-path cost of
resolve + token per call (target <= 20 us). Run: ``python bench/token_pool.py``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess  # nosec B404 - the bench runs its own burst module
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import lark_oapi as lark
from lark_oapi.core.enum import AccessTokenType, HttpMethod
from lark_oapi.core.model import BaseRequest

from bench._common import print_table
from bench.token_burst import CALLS as BURST_CALLS
from bench.token_burst import TOKEN_LATENCY as BURST_TOKEN_LATENCY
from lark_service.application import MessagingClient
from lark_service.domain import AppConfig, TokenKey, TokenKind
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark, serve_in_thread

TOKEN_LATENCY = 0.05  # seconds the fake takes to issue a token, like a real round trip
CALLS = 1000
# Issue 8 item 12 asks <= 5 ms on the machine where the minimal client blocked 3 ms; the
# absolute figure scales with the machine (the floor alone, callers that only wait on one
# event, takes ~10 ms on a 2-CPU VM), so the target is checked as that ratio.
BURST_TARGET_RATIO = 5 / 3


async def _stall_watch(stop: asyncio.Event) -> float:
    """The longest time the loop did not run this probe, beyond its 1 ms sleep."""
    worst = 0.0
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        worst = max(worst, now - last - 0.001)
        last = now
    return worst


async def ours(fake: FakeLark, base_url: str) -> dict[str, float]:
    fake.add_app("cli_bench_ours", "s")
    app = AppConfig(app_id="cli_bench_ours", app_secret="s")
    async with open_pool(apps=[app], base_url=base_url) as pool:
        client = MessagingClient(pool)
        fake.inject_fault(
            "latency", path_prefix="/open-apis/auth/", latency=TOKEN_LATENCY, count=10
        )
        stop = asyncio.Event()
        watcher = asyncio.create_task(_stall_watch(stop))
        await asyncio.sleep(0.01)
        # the stall is measured while the first token is fetched (10 waiting callers)
        await asyncio.gather(*(pool.get_token(pool.resolve()) for _ in range(10)))
        stop.set()
        stall = await watcher
        pool.forget_tokens("cli_bench_ours")
        await pool.token_store.delete_token(
            TokenKey(app_id="cli_bench_ours", kind=TokenKind.TENANT)
        )
        fake.reset()
        fake.inject_fault(
            "latency", path_prefix="/open-apis/auth/", latency=TOKEN_LATENCY, count=10
        )
        await asyncio.gather(*(client.get_bot_info() for _ in range(CALLS)))
        requests = fake.token_requests("cli_bench_ours")
        n = 200_000
        started = time.perf_counter()
        for _ in range(n):
            await pool.get_token(pool.resolve(None, None))
        hot = (time.perf_counter() - started) / n * 1e6
    return {"requests": requests, "stall_ms": stall * 1000, "hot_us": hot}


def _oapi_client(app_id: str, base_url: str) -> lark.Client:
    return (
        lark.Client.builder()
        .app_id(app_id)
        .app_secret("s")
        .domain(base_url)
        .log_level(lark.LogLevel.ERROR)
        .build()
    )


def _bot_info_request() -> BaseRequest:
    return (
        BaseRequest.builder()
        .http_method(HttpMethod.GET)
        .uri("/open-apis/bot/v3/info")
        .token_types({AccessTokenType.TENANT})
        .build()
    )


def oapi_threads(fake: FakeLark, base_url: str) -> int:
    """lark-oapi sync API: 1000 first calls from 50 threads (its concurrent mode)."""
    fake.add_app("cli_bench_oapi_sync", "s")
    client = _oapi_client("cli_bench_oapi_sync", base_url)
    fake.inject_fault("latency", path_prefix="/open-apis/auth/", latency=TOKEN_LATENCY, count=CALLS)
    barrier = threading.Barrier(50)

    def work() -> None:
        barrier.wait()
        for _ in range(CALLS // 50):
            client.request(_bot_info_request())

    threads = [threading.Thread(target=work) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return fake.token_requests("cli_bench_oapi_sync")


async def oapi_async(fake: FakeLark, base_url: str) -> dict[str, float]:
    fake.add_app("cli_bench_oapi_async", "s")
    client = _oapi_client("cli_bench_oapi_async", base_url)
    fake.inject_fault("latency", path_prefix="/open-apis/auth/", latency=TOKEN_LATENCY, count=10)
    stop = asyncio.Event()
    watcher = asyncio.create_task(_stall_watch(stop))
    await asyncio.sleep(0.01)
    # its first call fetches the token with a blocking HTTP call inside the loop
    await client.arequest(_bot_info_request())
    stop.set()
    return {
        "requests": fake.token_requests("cli_bench_oapi_async"),
        "stall_ms": await watcher * 1000,
    }


def burst() -> dict[str, float]:
    """Issue 8 item 12, measured in a fresh interpreter (see `bench.token_burst` for why)."""
    done = subprocess.run(  # nosec B603 - our own interpreter and module
        [sys.executable, "-m", "bench.token_burst"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        check=True,
        timeout=600,
    )
    result: dict[str, float] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


async def main() -> None:
    burst_result = await asyncio.to_thread(burst)  # first: nothing else runs meanwhile
    fake = FakeLark()
    with serve_in_thread(fake) as server:
        ours_result = await ours(fake, server.base_url)
        oapi_async_result = await oapi_async(fake, server.base_url)
        oapi_sync_requests = await asyncio.to_thread(oapi_threads, fake, server.base_url)
    print_table(
        f"Token pool, fake Lark on loopback, token endpoint latency {TOKEN_LATENCY * 1000:.0f} ms",
        ["measure", "lark-service", "lark-oapi", "ratio / target"],
        [
            [
                "token requests, 1000 concurrent first calls",
                ours_result["requests"],
                f"{oapi_sync_requests} (sync, 50 threads)",
                "target 1",
            ],
            [
                "longest event-loop stall, first token (ms)",
                f"{ours_result['stall_ms']:.2f}",
                f"{oapi_async_result['stall_ms']:.2f}",
                "target <= 5 ms",
            ],
            [
                f"longest loop block, {BURST_CALLS} concurrent first sends, "
                f"{BURST_TOKEN_LATENCY * 1000:.0f} ms token (ms)",
                f"{burst_result['sends_ms']:.2f} ({burst_result['requests']:.0f} token request)",
                "n/a",
                f"target <= 5 ms where the minimal client takes 3 ms: "
                f"<= {BURST_TARGET_RATIO:.2f}x the minimal client",
            ],
            [
                "  minimal single-flight client, same sends (ms)",
                f"{burst_result['baseline_ms']:.2f}",
                "n/a",
                f"ratio ours / minimal: "
                f"{burst_result['sends_ms'] / burst_result['baseline_ms']:.2f} "
                f"(target <= {BURST_TARGET_RATIO:.2f})",
            ],
            [
                "  same sends, cyclic GC off / gen-0 threshold x10 / start-up heap frozen (ms)",
                f"{burst_result['sends_off_ms']:.2f} / {burst_result['sends_gen0x10_ms']:.2f} / "
                f"{burst_result['sends_frozen_ms']:.2f}",
                "n/a",
                "observations only: the library leaves GC settings alone",
            ],
            [
                f"  same, {BURST_CALLS} concurrent get_token (ms)",
                f"{burst_result['tokens_ms']:.2f}",
                "n/a",
                f"floor (callers sharing one event): {burst_result['floor_ms']:.2f}",
            ],
            [
                f"  same, {BURST_CALLS} concurrent get_token, cyclic GC off (ms)",
                f"{burst_result['no_gc_ms']:.2f}",
                "n/a",
                "the rest of the block is gen-0/1 collections",
            ],
            [
                "hot path resolve + token (us/call)",
                f"{ours_result['hot_us']:.2f}",
                "n/a",
                "target <= 20 us",
            ],
        ],
    )


if __name__ == "__main__":
    asyncio.run(main())
