"""Fixtures and helpers of the metrics tests: a fresh registry, both forms of OtelMetrics,
and the registry scraped the way Prometheus parses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lark_service.adapters.otel import OtelMetrics, prometheus_meter_provider


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    yield CollectorRegistry()


@pytest.fixture(params=["prometheus", "sdk"])
def otel(request: pytest.FixtureRequest, registry: CollectorRegistry) -> Iterator[OtelMetrics]:
    """Both forms: per-call families kept by CallStats (fast), or all through the OTel SDK."""
    if request.param == "prometheus":
        metrics = OtelMetrics.prometheus(registry)
        yield metrics
        metrics.shutdown()
    else:
        provider = prometheus_meter_provider(registry)
        yield OtelMetrics(provider)
        provider.shutdown()


def scrape(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name → [(labels, value)], parsed the way Prometheus parses the text format."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def value(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    matches = [
        v for got, v in samples.get(name, []) if all(got.get(k) == x for k, x in labels.items())
    ]
    assert len(matches) == 1, f"{name}{labels}: {samples.get(name)}"
    return matches[0]
