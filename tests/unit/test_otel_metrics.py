"""OtelMetrics exports the pool's calls to Prometheus, without secrets."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from lark_service.adapters.otel import OtelMetrics, prometheus_meter_provider
from lark_service.application import MessagingClient
from lark_service.domain import AppConfig, AuthError
from lark_service.entrypoints.embed import open_pool
from lark_service.testing import InProcessLarkTransport
from lark_service.testing.fake_lark import FakeLark

pytestmark = pytest.mark.anyio


async def test_calls_token_fetches_and_errors_reach_prometheus(fake: FakeLark) -> None:
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
    provider.shutdown()
    assert 'lark_api_calls_total{api="bot.info",app_id="cli_otel",outcome="ok"} 3.0' in text
    assert 'outcome="AuthError"' in text
    assert 'lark_token_fetches_total{app_id="cli_otel",kind="tenant",outcome="ok"} 1.0' in text
    assert "lark_api_call_duration_seconds_bucket" in text
    for secret in ("otel-secret-1", "wrong-secret-2", token):
        assert secret not in text
