"""Metrics that need real time or a socket: limiter waits measured in real seconds and
the Prometheus endpoint served on a port."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client import CollectorRegistry

from lark_service.adapters.otel import (
    OtelMetrics,
    serve_metrics,
)

pytestmark = pytest.mark.anyio


def test_serve_metrics_answers_prometheus_text(
    otel: OtelMetrics, registry: CollectorRegistry
) -> None:
    otel.send_job(app_id="cli_a", outcome="published")
    with serve_metrics(0, addr="127.0.0.1", registry=registry) as server:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as reply:
            body = reply.read().decode()
            content_type = reply.headers["Content-Type"]
    assert content_type.startswith("text/plain")
    assert 'lark_send_jobs_total{app_id="cli_a",outcome="published"} 1.0' in body
