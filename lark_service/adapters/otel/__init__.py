"""OpenTelemetry metrics, exported for Prometheus."""

from lark_service.adapters.otel.metrics import OtelMetrics, prometheus_meter_provider

__all__ = ["OtelMetrics", "prometheus_meter_provider"]
