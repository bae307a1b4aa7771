"""Tracing overhead: CPU a Lark call costs with tracing off (NullTracer) vs on (OtelTracer).

Two measurements against the fake Lark server on loopback (it runs in its own thread; only
the client's thread CPU is counted, with ``time.thread_time``):

1. end to end: batches of ``get_bot_info`` calls through a pool tracing with `OtelTracer`
   (the SDK's batch processor, as `OtelTracer.otlp` builds it, with an exporter that drops
   the spans: exporting runs on the processor's thread, not the caller's), a pool with
   `NullTracer` and a second NullTracer pool (the noise floor), batches in rotating order,
   median CPU per call;
2. direct: the span one Lark call makes (start, two attributes, end, current-context switch)
   timed in a loop, with each tracer, as a share of a call's CPU.

Run: ``python bench/tracing_overhead.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from bench._common import BATCH, ROUNDS, median_cpu_per_call, print_table
from lark_service.adapters.otel.tracing import OtelTracer, tracer_provider
from lark_service.application import MessagingClient
from lark_service.domain import AppConfig
from lark_service.domain.ports.tracing import NullTracer, Tracer
from lark_service.entrypoints.embed import open_pool
from lark_service.entrypoints.settings import Settings
from lark_service.testing.fake_lark import FakeLark, serve_in_thread

DIRECT = 50_000
CHUNK = 1_000  # < the batch processor's queue (2048)


class DroppingExporter(SpanExporter):
    """Counts the spans it is given and drops them (what a collector's cost is not)."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


async def end_to_end(base_url: str, tracers: dict[str, Tracer]) -> dict[str, float]:
    """Median CPU per call of each app's pool, all open at once."""
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for app_id, tracer in tracers.items():
            app = AppConfig(app_id=app_id, app_secret="s")
            pool = await stack.enter_async_context(
                open_pool(apps=[app], base_url=base_url, settings=Settings())
            )
            pool.tracer = tracer
            clients[app_id] = MessagingClient(pool)
        return await median_cpu_per_call(clients)


def direct_span_cost(tracer: Tracer, flush: Callable[[], object] = lambda: None) -> float:
    """CPU seconds of the span one Lark call makes (as BaseServiceClient makes it).

    In chunks smaller than the batch processor's queue, flushed between chunks outside the
    timing: a tight loop outruns the export thread, and a full queue drops spans (cheaper).
    """
    apis = ("bot.info", "im.message.create", "contact.user.get")
    spent = 0.0
    for _ in range(DIRECT // CHUNK):
        start = time.thread_time()
        for i in range(CHUNK):
            api = apis[i % 3]
            attributes = {"lark.app_id": "cli_bench", "lark.api": api, "http.request.method": "GET"}
            with tracer.span(api, attributes, kind="client") as span:
                span.set_attribute("lark.code", 0)
                span.set_attribute("lark.log_id", "20261201000000ABCDEF")
        spent += time.thread_time() - start
        flush()
    return spent / (DIRECT // CHUNK * CHUNK)


async def main() -> None:
    fake = FakeLark()
    exporter = DroppingExporter()
    provider = tracer_provider(exporter)  # batch processor, as OtelTracer.otlp
    otel = OtelTracer(provider)
    with serve_in_thread(fake) as running:
        tracers: dict[str, Tracer] = {
            "cli_bench_null": NullTracer(),
            "cli_bench_otel": otel,
            "cli_bench_null2": NullTracer(),
        }
        for app_id in tracers:
            fake.add_app(app_id, "s")
        cpu = await end_to_end(running.base_url, tracers)
    null_call, otel_call = cpu["cli_bench_null"], cpu["cli_bench_otel"]
    noise = cpu["cli_bench_null2"] / null_call
    null_span = direct_span_cost(NullTracer())
    otel_span = direct_span_cost(otel, provider.force_flush)
    otel.shutdown()
    # every span was exported: the traced pool's calls and the direct loop's
    assert exporter.exported >= ROUNDS * BATCH + DIRECT
    print_table(
        "Tracing overhead (client thread CPU per get_bot_info call, fake Lark on loopback)",
        ["measure", "value"],
        [
            ["CPU per call, tracing off: NullTracer (median)", f"{null_call * 1e6:.1f} us"],
            ["CPU per call, tracing on: OtelTracer (median)", f"{otel_call * 1e6:.1f} us"],
            ["end to end: on / off", f"{otel_call / null_call:.3f}x"],
            ["noise floor: off / off (a second pool)", f"{noise:.3f}x"],
            ["span per call, NullTracer, direct", f"{null_span * 1e6:.2f} us"],
            ["span per call, OtelTracer, direct", f"{otel_span * 1e6:.2f} us"],
            ["direct: on / off", f"{otel_span / null_span:.1f}x"],
            ["NullTracer span / call CPU", f"{null_span / null_call:.2%}"],
            ["OtelTracer span / call CPU", f"{otel_span / null_call:.2%}"],
        ],
    )
    print(
        "\nWith tracing off the span is a shared no-op context manager; with it on, the SDK "
        "creates, times and queues a span (exported on the processor's thread)."
    )


if __name__ == "__main__":
    asyncio.run(main())
