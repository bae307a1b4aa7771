"""The `Metrics` port on OpenTelemetry, with a Prometheus reader.

Attributes are bounded: ``app_id``, ``api``, ``outcome`` (an error class name), ``kind``,
``reason`` — never a user, chat or message id, and never a token.
"""

from __future__ import annotations

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from prometheus_client import REGISTRY, CollectorRegistry

from lark_service.domain.ports.metrics import Metrics


def prometheus_meter_provider(registry: CollectorRegistry | None = None) -> SdkMeterProvider:
    """A meter provider whose metrics appear in ``registry`` (default: prometheus_client's)."""
    reader = PrometheusMetricReader(registry=registry or REGISTRY, scope_info_enabled=False)
    return SdkMeterProvider(metric_readers=[reader])


class OtelMetrics(Metrics):
    """Counters and a duration histogram, created once."""

    def __init__(self, meter_provider: MeterProvider) -> None:
        meter = meter_provider.get_meter("lark_service")
        self._calls = meter.create_counter(
            "lark_api_calls", unit="1", description="Calls to the Lark Open API by outcome"
        )
        self._duration = meter.create_histogram(
            "lark_api_call_duration", unit="s", description="Duration of Lark API calls"
        )
        self._token_fetches = meter.create_counter(
            "lark_token_fetches", unit="1", description="Tokens fetched from Lark by outcome"
        )
        self._retries = meter.create_counter(
            "lark_retries", unit="1", description="Retried attempts by reason"
        )
        self._rate_limited = meter.create_counter(
            "lark_rate_limited", unit="1", description="Replies with Lark's rate-limit code"
        )

    def api_call(self, *, app_id: str, api: str, outcome: str, seconds: float) -> None:
        self._calls.add(1, {"app_id": app_id, "api": api, "outcome": outcome})
        self._duration.record(seconds, {"app_id": app_id, "api": api})

    def token_fetch(self, *, app_id: str, kind: str, outcome: str) -> None:
        self._token_fetches.add(1, {"app_id": app_id, "kind": kind, "outcome": outcome})

    def retry(self, *, app_id: str, api: str, reason: str) -> None:
        self._retries.add(1, {"app_id": app_id, "api": api, "reason": reason})

    def rate_limited(self, *, app_id: str, api: str) -> None:
        self._rate_limited.add(1, {"app_id": app_id, "api": api})
