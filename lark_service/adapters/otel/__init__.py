"""OpenTelemetry metrics, exported for Prometheus, and the ``/metrics`` endpoint."""

from lark_service.adapters.otel.metrics import (
    PROMETHEUS_NAMES,
    OtelMetrics,
    prometheus_meter_provider,
)
from lark_service.adapters.otel.serve import (
    MetricsServer,
    metrics_asgi_app,
    serve_metrics,
)

__all__ = [
    "PROMETHEUS_NAMES",
    "MetricsServer",
    "OtelMetrics",
    "metrics_asgi_app",
    "prometheus_meter_provider",
    "serve_metrics",
]
