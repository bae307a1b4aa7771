"""OtelMetrics exports every family to Prometheus, with bounded labels and without secrets."""

from __future__ import annotations

import asyncio

import anyio
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from lark_service.adapters.memory import InMemoryMetrics
from lark_service.adapters.otel import (
    PROMETHEUS_NAMES,
    OtelMetrics,
    metrics_asgi_app,
    prometheus_meter_provider,
)
from lark_service.application import ContactClient, CredentialPool, MessagingClient
from lark_service.application.rate_limit import Limit, RateLimiter
from lark_service.domain import AppConfig, AuthError
from lark_service.domain.ports.metrics import LimiterCounts, Metrics, NullMetrics, TokenExpiry
from lark_service.entrypoints.embed import open_pool
from lark_service.testing import InProcessLarkTransport
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark.contact_directory import add_user
from lark_service.testing.virtual_time import loop_clock
from tests.conftest import FAST_RETRY, make_apps
from tests.otel_support import scrape, value

pytestmark = pytest.mark.anyio


def record_one_of_each(m: Metrics) -> None:
    m.api_call(app_id="cli_a", api="im.message.create", outcome="ok", seconds=0.04)
    m.api_call(app_id="cli_a", api="im.message.create", outcome="RateLimitError", seconds=0.3)
    m.retry(app_id="cli_a", api="im.message.create", reason="rate_limited")
    m.rate_limited(app_id="cli_a", api="im.message.create")
    m.token_fetch(app_id="cli_a", kind="tenant", outcome="ok")
    m.token_refresh(app_id="cli_a", kind="tenant", outcome="AuthError")
    m.watch_token_expiry(
        lambda: [TokenExpiry("cli_a", "tenant", 7000.0), TokenExpiry("cli_a", "tenant", 60.0)]
    )
    m.limiter_wait(app_id="cli_a", family="docx", seconds=0.2)
    m.http_request(route="/v1/messages", method="POST", status=202, seconds=0.003)
    m.http_request(route="/v1/jobs/{job_id}", method="GET", status=404, seconds=0.001)
    m.event_received(app_id="cli_a", event_type="im.message.receive_v1")
    m.event_rejected(app_id="unknown", event_type="unknown", reason="bad_signature")
    m.event_deduplicated(app_id="cli_a", event_type="im.message.receive_v1")
    m.send_job(app_id="cli_a", outcome="published")
    m.send_job(app_id="cli_a", outcome="sent")
    m.send_job(app_id="cli_a", outcome="dead_lettered")
    m.queue_depth(queue="lark.send", messages=12)
    m.queue_depth(queue="lark.send.dead", messages=2)


def test_every_family_renders_under_its_documented_name_and_labels(
    otel: OtelMetrics, registry: CollectorRegistry
) -> None:
    record_one_of_each(otel)
    samples = scrape(registry)
    for name, label_names in PROMETHEUS_NAMES.items():
        series = samples.get(name) or samples.get(f"{name}_count")
        assert series, f"{name} missing from {sorted(samples)}"
        for labels, _ in series:
            assert set(labels) == set(label_names), (name, labels)
    # histograms expose buckets in seconds, not OTel's millisecond defaults
    buckets = {x["le"] for x, _ in samples["lark_api_call_duration_seconds_bucket"]}
    assert {"0.005", "0.25", "30.0", "+Inf"} <= buckets


def test_values_of_each_family(otel: OtelMetrics, registry: CollectorRegistry) -> None:
    record_one_of_each(otel)
    s = scrape(registry)
    api = "im.message.create"
    assert value(s, "lark_api_calls_total", app_id="cli_a", api=api, outcome="ok") == 1
    assert value(s, "lark_api_calls_total", outcome="RateLimitError") == 1
    assert value(s, "lark_api_call_duration_seconds_count", app_id="cli_a", api=api) == 2
    assert value(s, "lark_api_call_duration_seconds_sum", api=api) == pytest.approx(0.34)
    assert value(s, "lark_retries_total", reason="rate_limited") == 1
    assert value(s, "lark_rate_limited_total", app_id="cli_a", api=api) == 1
    assert value(s, "lark_token_fetches_total", kind="tenant", outcome="ok") == 1
    assert value(s, "lark_token_refreshes_total", kind="tenant", outcome="AuthError") == 1
    # the soonest of an app's tokens of one kind
    assert value(s, "lark_token_expires_in_seconds", app_id="cli_a", kind="tenant") == 60.0
    assert value(s, "lark_limiter_waits_total", app_id="cli_a", family="docx") == 1
    assert value(s, "lark_limiter_wait_duration_seconds_sum", family="docx") == pytest.approx(0.2)
    assert value(s, "lark_service_http_requests_total", route="/v1/messages", status="202") == 1
    assert (
        value(s, "lark_service_http_requests_total", route="/v1/jobs/{job_id}", status="404") == 1
    )
    assert value(s, "lark_service_http_request_duration_seconds_count", route="/v1/messages") == 1
    assert value(s, "lark_events_received_total", event_type="im.message.receive_v1") == 1
    assert value(s, "lark_events_rejected_total", reason="bad_signature") == 1
    assert value(s, "lark_events_deduplicated_total", app_id="cli_a") == 1
    for outcome in ("published", "sent", "dead_lettered"):
        assert value(s, "lark_send_jobs_total", app_id="cli_a", outcome=outcome) == 1
    assert value(s, "lark_send_queue_depth", queue="lark.send") == 12
    assert value(s, "lark_send_queue_depth", queue="lark.send.dead") == 2


def test_queue_depth_gauge_reports_the_last_value(
    otel: OtelMetrics, registry: CollectorRegistry
) -> None:
    otel.queue_depth(queue="lark.send", messages=5)
    otel.queue_depth(queue="lark.send", messages=1)
    assert value(scrape(registry), "lark_send_queue_depth", queue="lark.send") == 1


def test_event_labels_from_requests_are_capped(registry: CollectorRegistry) -> None:
    provider = prometheus_meter_provider(registry)
    metrics = OtelMetrics(provider, max_event_labels=3)
    for i in range(10):
        metrics.event_rejected(app_id=f"cli_{i}", event_type=f"type.{i}", reason="bad_signature")
    apps = {labels["app_id"] for labels, _ in scrape(registry)["lark_events_rejected_total"]}
    provider.shutdown()
    assert apps == {"cli_0", "cli_1", "cli_2", "other"}


def test_in_memory_and_null_metrics_take_every_family() -> None:
    memory = InMemoryMetrics()
    record_one_of_each(memory)
    record_one_of_each(NullMetrics())
    assert memory.calls[("cli_a", "im.message.create", "ok")] == 1
    assert memory.token_refreshes[("cli_a", "tenant", "AuthError")] == 1
    assert memory.token_expiries()[1] == TokenExpiry("cli_a", "tenant", 60.0)
    assert memory.limiter_wait_seconds[("cli_a", "docx")] == pytest.approx(0.2)
    assert memory.http_requests[("/v1/jobs/{job_id}", "GET", 404)] == 1
    assert memory.events_received[("cli_a", "im.message.receive_v1")] == 1
    assert memory.events_rejected[("unknown", "unknown", "bad_signature")] == 1
    assert memory.events_deduplicated[("cli_a", "im.message.receive_v1")] == 1
    assert memory.send_jobs[("cli_a", "dead_lettered")] == 1
    assert memory.queue_depths == {"lark.send": 12, "lark.send.dead": 2}


async def test_calls_token_fetches_and_errors_reach_prometheus(
    fake: FakeLark,
) -> None:
    registry = CollectorRegistry()
    provider = prometheus_meter_provider(registry)
    fake.add_app("cli_otel", "otel-secret-1")
    fake.add_app("cli_otel_bad", "right")
    apps = [
        AppConfig(app_id="cli_otel", app_secret="otel-secret-1"),
        AppConfig(app_id="cli_otel_bad", app_secret="wrong-secret-2"),
    ]
    metrics = OtelMetrics(provider)
    transport = InProcessLarkTransport(fake, metrics=metrics)
    async with open_pool(apps=apps, transport=transport, metrics=metrics) as pool:
        client = MessagingClient(pool)
        for _ in range(3):
            await client.get_bot_info(app_id="cli_otel")
        with pytest.raises(AuthError):
            await client.get_bot_info(app_id="cli_otel_bad")
        token = await pool.tenant_access_token("cli_otel")
        text = generate_latest(registry).decode()
        samples = scrape(registry)
    provider.shutdown()
    assert 'lark_api_calls_total{api="bot.info",app_id="cli_otel",outcome="ok"} 3.0' in text
    assert 'outcome="AuthError"' in text
    assert 'lark_token_fetches_total{app_id="cli_otel",kind="tenant",outcome="ok"} 1.0' in text
    assert "lark_api_call_duration_seconds_bucket" in text
    # the pool feeds the expiry gauge: a fresh tenant token has about two hours left
    expiry = value(samples, "lark_token_expires_in_seconds", app_id="cli_otel")
    assert 7000 < expiry <= 7200
    for secret in ("otel-secret-1", "wrong-secret-2", token):
        assert secret not in text


async def test_metrics_asgi_app_mounts_in_starlette(
    otel: OtelMetrics, registry: CollectorRegistry
) -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.routing import Mount

    otel.http_request(route="/healthz", method="GET", status=200, seconds=0.001)
    app = Starlette(routes=[Mount("/metrics", app=metrics_asgi_app(registry))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        reply = await client.get("/metrics/")
    assert reply.status_code == 200
    assert 'route="/healthz"' in reply.text


def test_both_forms_render_the_same_series() -> None:
    def render(fast: bool) -> list[str]:
        registry = CollectorRegistry()
        if fast:
            metrics = OtelMetrics.prometheus(registry)
        else:
            metrics = OtelMetrics(prometheus_meter_provider(registry))
        for seconds in (0.001, 0.005, 0.3, 2.5, 31.0):
            metrics.api_call(app_id="cli_a", api="bot.info", outcome="ok", seconds=seconds)
        metrics.api_call(app_id="cli_a", api="bot.info", outcome="AuthError", seconds=0.02)
        text = generate_latest(registry).decode()
        return sorted(
            line
            for line in text.splitlines()
            if line.startswith("lark_api_call") and "_created" not in line
        )

    fast, sdk = render(fast=True), render(fast=False)
    assert fast == sdk
    assert (
        'lark_api_call_duration_seconds_bucket{api="bot.info",app_id="cli_a",le="0.005"} 2.0'
        in fast
    )
    assert (
        'lark_api_call_duration_seconds_bucket{api="bot.info",app_id="cli_a",le="+Inf"} 6.0' in fast
    )


def test_prometheus_form_leaves_the_registry_on_shutdown() -> None:
    registry = CollectorRegistry()
    first = OtelMetrics.prometheus(registry)
    with pytest.raises(ValueError, match="Duplicated"):
        OtelMetrics.prometheus(registry)
    first.api_call(app_id="cli_a", api="bot.info", outcome="ok", seconds=0.1)
    first.shutdown()
    assert "lark_api_calls_total" not in generate_latest(registry).decode()
    second = OtelMetrics.prometheus(registry)
    second.api_call(app_id="cli_b", api="bot.info", outcome="ok", seconds=0.1)
    assert 'app_id="cli_b"' in generate_latest(registry).decode()
    second.shutdown()


async def test_pool_records_limiter_waits_and_background_refreshes(fake: FakeLark) -> None:
    apps = make_apps(fake, 1, prefix="cli_wait")
    metrics = InMemoryMetrics()
    # one call per second on the loop's (virtual) clock: the second call waits about 1 s
    limiter = RateLimiter({"contact": Limit(per_second=1)}, margin=0.0, clock=loop_clock())
    async with open_pool(
        apps=apps,
        transport=InProcessLarkTransport(fake, metrics=metrics, retry=FAST_RETRY),
        metrics=metrics,
        limiter=limiter,
        clock=_FakeLarkClock(fake),  # the pool and the fake agree on expiry
    ) as pool:
        user = add_user(fake, "cli_wait0", name="Ann")
        await _two_contact_calls(pool, user["open_id"])
        # into the refresh window (4 minutes left): the next call triggers a background refresh
        fake.advance(7200 - 240)
        await pool.get_token(pool.resolve("cli_wait0"))
        with anyio.fail_after(5):
            while not metrics.token_refreshes:
                await asyncio.sleep(0)
    assert metrics.limiter_waits[("cli_wait0", "contact")] == 1
    assert 0 < metrics.limiter_wait_seconds[("cli_wait0", "contact")] <= 1.5
    assert metrics.token_refreshes[("cli_wait0", "tenant", "ok")] == 1


class _FakeLarkClock:
    def __init__(self, fake: FakeLark) -> None:
        self._fake = fake

    def now(self) -> float:
        return self._fake.now()


async def _two_contact_calls(pool: CredentialPool, open_id: str) -> None:
    client = ContactClient(pool)
    for _ in range(2):
        await client.get_user(open_id, app_id="cli_wait0")


def test_shared_limiter_counts_are_exported(otel: OtelMetrics, registry: CollectorRegistry) -> None:
    otel.watch_limiter(lambda: LimiterCounts(7, 2, 1, 40))
    s = scrape(registry)
    assert value(s, "lark_limiter_store_round_trips_total") == 7
    assert value(s, "lark_limiter_store_errors_total") == 2
    assert value(s, "lark_limiter_fallbacks_total") == 1
    assert value(s, "lark_limiter_fallback_calls_total") == 40


async def test_the_pool_reports_its_limiter(fake: FakeLark) -> None:
    metrics = InMemoryMetrics()
    transport = InProcessLarkTransport(fake, metrics=metrics)
    async with open_pool(apps=make_apps(fake, 1), transport=transport, metrics=metrics):
        assert metrics.limiter_counts() == LimiterCounts(0, 0, 0, 0)  # the local limiter
