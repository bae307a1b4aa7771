"""The `Metrics` port on OpenTelemetry, with a Prometheus reader.

Attributes are bounded: ``app_id``, ``api``, ``family``, ``route`` (a template), ``method``,
``status``, ``kind``, ``queue``, ``outcome`` / ``reason`` (an error class name or a fixed
word) — never a user, chat, message or job id, and never a token. Event labels come from
requests, so they are additionally capped (`_Capped`): past a few hundred distinct values a
new one is recorded as ``"other"`` instead of growing the series without bound.

The Prometheus names (the exporter appends ``_seconds`` for unit ``s`` and ``_total`` to
counters) are listed in `PROMETHEUS_NAMES`; ops/prometheus and ops/grafana use exactly these,
and tests/unit/test_otel_metrics.py checks them against a rendered registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Histogram, MeterProvider, Observation
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import REGISTRY, CollectorRegistry

from lark_service.adapters.otel.call_stats import CallStats, CallStatsCollector
from lark_service.domain.ports.metrics import (
    LimiterCountsSource,
    Metrics,
    SendJobOutcome,
    TokenExpiry,
    TokenExpirySource,
)

# Seconds. OTel's default buckets (0, 5, 10, 25 ... 10000) are made for milliseconds.
LATENCY_BUCKETS: Sequence[float] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
WAIT_BUCKETS: Sequence[float] = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

PROMETHEUS_NAMES: dict[str, tuple[str, ...]] = {
    # family name as scraped: its label names
    "lark_api_calls_total": ("app_id", "api", "outcome"),
    "lark_api_call_duration_seconds": ("app_id", "api"),
    "lark_retries_total": ("app_id", "api", "reason"),
    "lark_rate_limited_total": ("app_id", "api"),
    "lark_token_fetches_total": ("app_id", "kind", "outcome"),
    "lark_token_refreshes_total": ("app_id", "kind", "outcome"),
    "lark_token_expires_in_seconds": ("app_id", "kind"),
    "lark_limiter_waits_total": ("app_id", "family"),
    "lark_limiter_wait_duration_seconds": ("app_id", "family"),
    "lark_service_http_requests_total": ("route", "method", "status"),
    "lark_service_http_request_duration_seconds": ("route", "method"),
    "lark_events_received_total": ("app_id", "event_type"),
    "lark_events_rejected_total": ("app_id", "event_type", "reason"),
    "lark_events_deduplicated_total": ("app_id", "event_type"),
    "lark_send_jobs_total": ("app_id", "outcome"),
    "lark_send_queue_depth": ("queue",),
}


def prometheus_meter_provider(
    registry: CollectorRegistry | None = None, *, service_name: str = "lark-service"
) -> SdkMeterProvider:
    """A meter provider whose metrics appear in ``registry`` (default: prometheus_client's).

    ``service_name`` (``lark-service`` or ``lark-service-worker``) shows in ``target_info``.
    """
    reader = PrometheusMetricReader(registry=registry or REGISTRY, scope_info_enabled=False)
    resource = Resource.create({"service.name": service_name})
    return SdkMeterProvider(metric_readers=[reader], resource=resource)


class _Capped:
    """Passes the first ``limit`` distinct values through, then answers ``"other"``."""

    __slots__ = ("_limit", "_seen")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit:
            return "other"
        self._seen.add(value)
        return value


class OtelMetrics(Metrics):
    """Counters, histograms and gauges, created once.

    With ``registry`` (the prometheus_client registry the provider's reader writes to), the
    per-call families are kept by `CallStats` and collected straight into that registry — about
    1 µs per call instead of the SDK's ~7 µs (bench/metrics_overhead.py). Without it, they go
    through the SDK like every other family, so any provider (OTLP too) receives them.
    `OtelMetrics.prometheus` builds the fast, Prometheus-exported form.
    """

    def __init__(
        self,
        meter_provider: MeterProvider,
        *,
        registry: CollectorRegistry | None = None,
        max_event_labels: int = 200,
    ) -> None:
        meter = meter_provider.get_meter("lark_service")
        counter, histogram = meter.create_counter, meter.create_histogram
        self._owned_provider: SdkMeterProvider | None = None
        self._registry = registry
        self._call_stats = CallStats(LATENCY_BUCKETS)
        self._collector: CallStatsCollector | None = None
        self._duration: Histogram | None = None
        if registry is not None:
            self._collector = CallStatsCollector(self._call_stats)
            registry.register(self._collector)
        else:
            meter.create_observable_counter(
                "lark_api_calls",
                callbacks=[self._observe_calls],
                unit="1",
                description="Calls to the Lark Open API by outcome",
            )
            self._duration = histogram(
                "lark_api_call_duration",
                unit="s",
                description="Duration of Lark API calls",
                explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
            )
        self._retries = counter("lark_retries", unit="1", description="Retried attempts by reason")
        self._rate_limited = counter(
            "lark_rate_limited", unit="1", description="Replies with Lark's rate-limit code"
        )
        self._token_fetches = counter(
            "lark_token_fetches", unit="1", description="Tokens fetched from Lark by outcome"
        )
        self._token_refreshes = counter(
            "lark_token_refreshes",
            unit="1",
            description="Background token refreshes ahead of expiry by outcome",
        )
        self._limiter_waits = counter(
            "lark_limiter_waits",
            unit="1",
            description="Calls delayed by the client-side rate limiter",
        )
        self._limiter_wait_duration = histogram(
            "lark_limiter_wait_duration",
            unit="s",
            description="Time calls waited for a rate-limit slot",
            explicit_bucket_boundaries_advisory=WAIT_BUCKETS,
        )
        self._http_requests = counter(
            "lark_service_http_requests",
            unit="1",
            description="HTTP API requests by route template and status",
        )
        self._http_duration = histogram(
            "lark_service_http_request_duration",
            unit="s",
            description="HTTP API request duration by route template",
            explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
        )
        self._events_received = counter(
            "lark_events_received", unit="1", description="Events accepted from Lark"
        )
        self._events_rejected = counter(
            "lark_events_rejected", unit="1", description="Events refused (signature, decrypt...)"
        )
        self._events_deduplicated = counter(
            "lark_events_deduplicated", unit="1", description="Events dropped as redeliveries"
        )
        self._send_jobs = counter("lark_send_jobs", unit="1", description="Send jobs by outcome")
        self._app_label = _Capped(max_event_labels)
        self._event_label = _Capped(max_event_labels)
        self._lock = threading.Lock()
        self._depths: dict[str, int] = {}
        self._expiry_source: TokenExpirySource | None = None
        meter.create_observable_gauge(
            "lark_token_expires_in",
            callbacks=[self._observe_expiry],
            unit="s",
            description="Seconds until the soonest cached token of each app and kind expires",
        )
        self._limiter_source: LimiterCountsSource | None = None
        for field, description in (
            ("store_round_trips", "Exchanges of the shared rate limiter with its store"),
            ("store_errors", "Failed exchanges of the shared rate limiter with its store"),
            ("fallbacks", "Times the shared limiter fell back to a local share"),
            ("fallback_calls", "Calls shaped by the local share while the store was down"),
        ):
            meter.create_observable_counter(
                f"lark_limiter_{field}",
                callbacks=[self._limiter_observer(field)],
                unit="1",
                description=description,
            )
        meter.create_observable_gauge(
            "lark_send_queue_depth",
            callbacks=[self._observe_depths],
            unit="1",
            description="Messages waiting in the send queue and its dead-letter queue",
        )

    # Lark calls
    @classmethod
    def prometheus(
        cls,
        registry: CollectorRegistry | None = None,
        *,
        service_name: str = "lark-service",
        max_event_labels: int = 200,
    ) -> OtelMetrics:
        """Metrics exported to ``registry`` (default: prometheus_client's); `shutdown` ends them.

        One instance per registry at a time: a second one raises ValueError (duplicate names).
        """
        target = registry or REGISTRY
        provider = prometheus_meter_provider(target, service_name=service_name)
        try:
            metrics = cls(provider, registry=target, max_event_labels=max_event_labels)
        except BaseException:
            provider.shutdown()
            raise
        metrics._owned_provider = provider
        return metrics

    def shutdown(self) -> None:
        """Take these metrics out of the registry (and stop a provider `prometheus` built)."""
        if self._collector is not None and self._registry is not None:
            self._registry.unregister(self._collector)
            self._collector = None
        if self._owned_provider is not None:
            self._owned_provider.shutdown()
            self._owned_provider = None

    def api_call(self, *, app_id: str, api: str, outcome: str, seconds: float) -> None:
        if self._duration is None:
            self._call_stats.record(app_id, api, outcome, seconds)
        else:
            self._call_stats.record_outcome(app_id, api, outcome)
            self._duration.record(seconds, {"app_id": app_id, "api": api})

    def _observe_calls(self, options: CallbackOptions) -> Iterable[Observation]:
        counts = self._call_stats.counts()
        return [
            Observation(n, {"app_id": app_id, "api": api, "outcome": outcome})
            for (app_id, api, outcome), n in counts
        ]

    def retry(self, *, app_id: str, api: str, reason: str) -> None:
        self._retries.add(1, {"app_id": app_id, "api": api, "reason": reason})

    def rate_limited(self, *, app_id: str, api: str, reset: float | None = None) -> None:
        self._rate_limited.add(1, {"app_id": app_id, "api": api})

    # Tokens
    def token_fetch(self, *, app_id: str, kind: str, outcome: str) -> None:
        self._token_fetches.add(1, {"app_id": app_id, "kind": kind, "outcome": outcome})

    def token_refresh(self, *, app_id: str, kind: str, outcome: str) -> None:
        self._token_refreshes.add(1, {"app_id": app_id, "kind": kind, "outcome": outcome})

    def watch_token_expiry(self, source: TokenExpirySource) -> None:
        self._expiry_source = source

    def _observe_expiry(self, options: CallbackOptions) -> Iterable[Observation]:
        source = self._expiry_source
        if source is None:
            return []
        soonest: dict[tuple[str, str], float] = {}
        for app_id, kind, seconds in source():
            key = (app_id, kind)
            if key not in soonest or seconds < soonest[key]:
                soonest[key] = seconds
        return [Observation(s, {"app_id": a, "kind": k}) for (a, k), s in soonest.items()]

    # Rate limiter
    def watch_limiter(self, source: LimiterCountsSource) -> None:
        self._limiter_source = source

    def _limiter_observer(self, field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            source = self._limiter_source
            return [] if source is None else [Observation(getattr(source(), field))]

        return observe

    def limiter_wait(self, *, app_id: str, family: str, seconds: float) -> None:
        attributes = {"app_id": app_id, "family": family}
        self._limiter_waits.add(1, attributes)
        self._limiter_wait_duration.record(seconds, attributes)

    # HTTP API
    def http_request(self, *, route: str, method: str, status: int, seconds: float) -> None:
        self._http_requests.add(1, {"route": route, "method": method, "status": str(status)})
        self._http_duration.record(seconds, {"route": route, "method": method})

    # Events
    def event_received(self, *, app_id: str, event_type: str) -> None:
        self._events_received.add(1, self._event_attributes(app_id, event_type))

    def event_rejected(self, *, app_id: str, event_type: str, reason: str) -> None:
        attributes = self._event_attributes(app_id, event_type)
        attributes["reason"] = reason
        self._events_rejected.add(1, attributes)

    def event_deduplicated(self, *, app_id: str, event_type: str) -> None:
        self._events_deduplicated.add(1, self._event_attributes(app_id, event_type))

    def _event_attributes(self, app_id: str, event_type: str) -> dict[str, str]:
        with self._lock:
            return {"app_id": self._app_label(app_id), "event_type": self._event_label(event_type)}

    # Send queue
    def send_job(self, *, app_id: str, outcome: SendJobOutcome) -> None:
        self._send_jobs.add(1, {"app_id": app_id, "outcome": outcome})

    def queue_depth(self, *, queue: str, messages: int) -> None:
        with self._lock:
            self._depths[queue] = messages

    def _observe_depths(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            depths = list(self._depths.items())
        return [Observation(n, {"queue": q}) for q, n in depths]


__all__ = [
    "LATENCY_BUCKETS",
    "PROMETHEUS_NAMES",
    "WAIT_BUCKETS",
    "OtelMetrics",
    "TokenExpiry",
    "prometheus_meter_provider",
]
