"""ops/prometheus and ops/grafana: the names they use are the names we export, and the panels
and alerts the issue asks for are there. promtool runs in test_promtool.py."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lark_service.adapters.otel import PROMETHEUS_NAMES, OtelMetrics, prometheus_meter_provider
from lark_service.domain.ports.metrics import TokenExpiry
from tests.ops.promql import (
    PROMETHEUS_DIR,
    alert_exprs,
    dashboard,
    dashboard_exprs,
    load_yaml,
    metric_names,
    variable_queries,
)


def rendered_sample_names() -> set[str]:
    """Every sample name a registry shows once each family has recorded something."""
    registry = CollectorRegistry()
    provider = prometheus_meter_provider(registry)
    m = OtelMetrics(provider)
    m.api_call(app_id="a", api="x", outcome="ok", seconds=0.1)
    m.retry(app_id="a", api="x", reason="r")
    m.rate_limited(app_id="a", api="x")
    m.token_fetch(app_id="a", kind="tenant", outcome="ok")
    m.token_refresh(app_id="a", kind="tenant", outcome="ok")
    m.watch_token_expiry(lambda: [TokenExpiry("a", "tenant", 1.0)])
    m.limiter_wait(app_id="a", family="docx", seconds=0.1)
    m.http_request(route="/r", method="GET", status=200, seconds=0.1)
    m.event_received(app_id="a", event_type="t")
    m.event_rejected(app_id="a", event_type="t", reason="r")
    m.event_deduplicated(app_id="a", event_type="t")
    m.send_job(app_id="a", outcome="sent")
    m.queue_depth(queue="lark.send", messages=1)
    text = generate_latest(registry).decode()
    provider.shutdown()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_rendered_names_are_the_documented_catalogue() -> None:
    names = rendered_sample_names()
    for family in PROMETHEUS_NAMES:
        assert family in names or f"{family}_bucket" in names, family


def test_rules_and_dashboard_use_only_exported_names() -> None:
    exported = rendered_sample_names() | {"up"}
    exprs = {**alert_exprs(), **dashboard_exprs(), **variable_queries()}
    alert_tests = (PROMETHEUS_DIR / "alerts_test.yml").read_text()
    used = set().union(*(metric_names(e) for e in exprs.values())) | metric_names(alert_tests)
    assert used - exported == set()
    # and the dashboard covers every family we export
    dashboard_names = set().union(*(metric_names(e) for e in dashboard_exprs().values()))
    for family in PROMETHEUS_NAMES:
        assert any(n.startswith(family) for n in dashboard_names), f"no panel shows {family}"


def test_prometheus_scrapes_service_and_worker_every_15s() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    assert config["global"]["scrape_interval"] == "15s"
    assert config["rule_files"] == ["alerts.yml"]
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets["lark-service"] == ["lark-service:9090"]
    assert targets["lark-service-worker"] == ["worker:9090"]


@pytest.mark.parametrize(
    "alert",
    [
        "LarkApiErrorRateHigh",
        "LarkApiLatencyP95High",
        "LarkTokenFetchFailing",
        "LarkSendDeadLettersGrowing",
        "LarkSendQueueBackingUp",
        "LarkServiceTargetDown",
    ],
)
def test_each_required_alert_exists_and_has_a_promtool_test(alert: str) -> None:
    assert alert in alert_exprs()
    tests = load_yaml(PROMETHEUS_DIR / "alerts_test.yml")["tests"]
    firing = [
        case
        for t in tests
        for case in t["alert_rule_test"]
        if case["alertname"] == alert and case["exp_alerts"]
    ]
    assert firing, f"no promtool case where {alert} fires"


def test_every_alert_has_a_firing_promtool_case() -> None:
    tests = load_yaml(PROMETHEUS_DIR / "alerts_test.yml")["tests"]
    fired = {c["alertname"] for t in tests for c in t["alert_rule_test"] if c["exp_alerts"]}
    assert set(alert_exprs()) <= fired


def test_dashboard_panels_and_variables() -> None:
    board = dashboard()
    titles = [p["title"] for p in board["panels"]]
    assert len(titles) >= 6
    wanted = {
        "QPS": r"QPS",
        "latency percentiles": r"p50 / p95 / p99",
        "error rate": r"error rate",
        "token refreshes": r"refreshes",
        "token expiry": r"expire",
        "rate-limit hits": r"Rate limits",
        "queue depth": r"queue depth",
        "dead letters": r"Send jobs",
        "HTTP status codes": r"HTTP API requests by status",
    }
    for what, pattern in wanted.items():
        assert any(re.search(pattern, t) for t in titles), what
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) >= {"app", "api"}
    assert all(v["includeAll"] and v["multi"] for v in variables.values())
    # panels of Lark calls honour both variables
    calls = [
        e
        for e in (t["expr"] for p in board["panels"] for t in p["targets"])
        if "lark_api_call" in e
    ]
    assert calls and all('app_id=~"$app"' in e and 'api=~"$api"' in e for e in calls)
    # every query targets the provisioned datasource
    assert {p["datasource"]["uid"] for p in board["panels"]} == {"prometheus"}


def test_grafana_provisioning_points_at_the_dashboard_and_prometheus() -> None:
    grafana = PROMETHEUS_DIR.parent / "grafana"
    source = load_yaml(grafana / "provisioning" / "datasources" / "prometheus.yml")
    (ds,) = source["datasources"]
    assert ds["uid"] == "prometheus" and ds["url"] == "http://prometheus:9090" and ds["isDefault"]
    provider = load_yaml(grafana / "provisioning" / "dashboards" / "lark-service.yml")
    (p,) = provider["providers"]
    assert p["options"]["path"] == "/etc/grafana/dashboards"
