"""Tracing is configured by ``OTEL_EXPORTER_OTLP_ENDPOINT`` (through `Settings`), off otherwise."""

from __future__ import annotations

import pytest

from lark_service.adapters.otel.tracing import OtelTracer
from lark_service.domain.errors import ConfigError
from lark_service.domain.ports.tracing import NullTracer
from lark_service.entrypoints.bootstrap import application
from lark_service.entrypoints.http.wiring import open_services
from lark_service.entrypoints.settings import Settings, load_settings

pytestmark = pytest.mark.anyio

ENDPOINT = "http://collector.invalid:4318"


def test_the_standard_variable_sets_the_endpoint() -> None:
    settings = load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": f" {ENDPOINT} "})
    assert settings.otlp_endpoint == ENDPOINT
    assert load_settings({}).otlp_endpoint is None
    assert load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}).otlp_endpoint is None
    # only the standard name: the variable OpenTelemetry's own tools read too
    assert load_settings({"LARK_SERVICE_OTLP_ENDPOINT": ENDPOINT}).otlp_endpoint is None


def test_an_endpoint_that_is_not_http_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_ENDPOINT: write http://"):
        load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"})
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_ENDPOINT"):
        Settings(otlp_endpoint="grpc://collector:4317")


def test_a_password_in_the_endpoint_is_not_shown() -> None:
    settings = Settings(otlp_endpoint="https://user:hunter22@collector:4318")
    assert "hunter22" not in repr(settings)
    assert "otlp_endpoint='https://user:***@collector:4318'" in repr(settings)


async def test_without_an_endpoint_the_pool_and_the_services_do_not_trace() -> None:
    async with application(Settings()) as app:
        pool = await app.services.pool()
        assert isinstance(pool.tracer, NullTracer)
        assert isinstance(app.core.tracer(), NullTracer)


async def test_with_an_endpoint_the_pool_and_the_send_use_case_share_one_otel_tracer() -> None:
    settings = Settings(otlp_endpoint=ENDPOINT, service_name="lark-service-worker")
    async with application(settings) as app:
        pool = await app.services.pool()
        tracer = pool.tracer
        assert isinstance(tracer, OtelTracer)
        assert app.core.tracer() is tracer
        async with open_services(pool) as services:
            assert services.sending.tracer is tracer
            assert services.pool.tracer is tracer
