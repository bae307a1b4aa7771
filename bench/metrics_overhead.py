"""Metrics overhead: CPU a Lark call costs with OtelMetrics vs with NullMetrics, same run.

Two measurements against the fake Lark server on loopback (it runs in its own thread; only
the client's thread CPU is counted, with ``time.thread_time``):

1. end to end: batches of ``get_bot_info`` calls through a pool recording into OtelMetrics,
   a pool with NullMetrics and a second NullMetrics pool (the noise floor), all open,
   batches in rotating order, median CPU per call;
2. direct: the recording a call makes (``api_call``: an outcome count and a latency sample)
   timed in a loop, as a share of a call's CPU — for `OtelMetrics.prometheus` (what the
   service and worker use: per-call families in `CallStats`) and for an SDK-only OtelMetrics.

Target: recording costs < 1% of a call's CPU. Run: ``python bench/metrics_overhead.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import CollectorRegistry, generate_latest

from bench._common import median_cpu_per_call, print_table
from lark_service.adapters.otel import OtelMetrics, prometheus_meter_provider
from lark_service.application import MessagingClient
from lark_service.domain import AppConfig
from lark_service.domain.ports.metrics import Metrics, NullMetrics
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark, serve_in_thread

DIRECT = 50_000


async def end_to_end(base_url: str, pools: dict[str, Metrics]) -> dict[str, float]:
    """Median CPU per call of each app's pool, all open at once."""
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for app_id, metrics in pools.items():
            app = AppConfig(app_id=app_id, app_secret="s")
            pool = await stack.enter_async_context(
                open_pool(apps=[app], base_url=base_url, metrics=metrics)
            )
            clients[app_id] = MessagingClient(pool)
        return await median_cpu_per_call(clients)


def direct_recording_cost(metrics: Metrics) -> float:
    """CPU seconds of the recording one Lark call makes."""
    labels = [("cli_bench", api) for api in ("bot.info", "im.message.create", "contact.user.get")]
    start = time.thread_time()
    for i in range(DIRECT):
        app_id, api = labels[i % 3]
        metrics.api_call(app_id=app_id, api=api, outcome="ok", seconds=0.0123)
    return (time.thread_time() - start) / DIRECT


async def main() -> None:
    fake = FakeLark()
    registry = CollectorRegistry()
    otel = OtelMetrics.prometheus(registry)  # what the service and the worker use
    sdk_registry = CollectorRegistry()
    sdk_provider = prometheus_meter_provider(sdk_registry)
    sdk_only = OtelMetrics(sdk_provider)  # every family through the OTel SDK
    null = NullMetrics()
    with serve_in_thread(fake) as running:
        apps = {"cli_bench_null": null, "cli_bench_otel": otel, "cli_bench_null2": NullMetrics()}
        for app_id in apps:
            fake.add_app(app_id, "s")
        cpu = await end_to_end(running.base_url, apps)
    null_call, otel_call = cpu["cli_bench_null"], cpu["cli_bench_otel"]
    noise = cpu["cli_bench_null2"] / null_call
    null_cost = direct_recording_cost(null)
    recording = direct_recording_cost(otel) - null_cost
    recording_sdk = direct_recording_cost(sdk_only) - null_cost
    scraped = generate_latest(registry).decode()
    assert 'lark_api_calls_total{api="bot.info",app_id="cli_bench_otel",outcome="ok"}' in scraped
    otel.shutdown()
    sdk_provider.shutdown()
    print_table(
        "Metrics overhead (client thread CPU per get_bot_info call, fake Lark on loopback)",
        ["measure", "value"],
        [
            ["CPU per call, NullMetrics (median)", f"{null_call * 1e6:.1f} us"],
            ["CPU per call, OtelMetrics (median)", f"{otel_call * 1e6:.1f} us"],
            ["end to end: Otel / Null", f"{otel_call / null_call:.3f}x"],
            ["noise floor: Null / Null (a second pool)", f"{noise:.3f}x"],
            ["recording per call (api_call), direct", f"{recording * 1e6:.2f} us"],
            ["recording / call CPU (target < 1%)", f"{recording / null_call:.2%}"],
            ["same, all through the OTel SDK (direct)", f"{recording_sdk * 1e6:.2f} us"],
            ["SDK-only recording / call CPU", f"{recording_sdk / null_call:.2%}"],
        ],
    )
    print(
        "\nThe end-to-end ratio is within the noise of two identical pools (the noise floor);"
        " the direct figure isolates what recording adds."
    )


if __name__ == "__main__":
    asyncio.run(main())
