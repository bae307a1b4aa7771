"""The PromQL of ops/: every expression of the Grafana dashboard and of the alert rules."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
OPS = REPO / "ops"
PROMETHEUS_DIR = OPS / "prometheus"
DASHBOARD = OPS / "grafana" / "dashboards" / "lark-service.json"
ALERTS = PROMETHEUS_DIR / "alerts.yml"

# Grafana's template variables, as Grafana expands them with "All" selected.
GRAFANA_SUBSTITUTIONS = {"$__rate_interval": "1m", "$app": ".*", "$api": ".*"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def dashboard_exprs() -> dict[str, str]:
    """``"panel title / refId"`` → the panel query, variables expanded as Grafana would."""
    out: dict[str, str] = {}
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            out[f"{panel['title']} / {target['refId']}"] = grafana_expand(target["expr"])
    return out


def grafana_expand(expr: str) -> str:
    for variable, value in GRAFANA_SUBSTITUTIONS.items():
        expr = expr.replace(variable, value)
    return expr


def alert_exprs() -> dict[str, str]:
    """Alert name → expression."""
    out: dict[str, str] = {}
    for group in load_yaml(ALERTS)["groups"]:
        for rule in group["rules"]:
            out[rule["alert"]] = " ".join(rule["expr"].split())
    return out


def variable_queries() -> dict[str, str]:
    """Template variable → its ``label_values(metric{...}, label)`` query."""
    return {v["name"]: v["query"]["query"] for v in dashboard()["templating"]["list"]}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (``lark_*`` and ``up``)."""
    return set(re.findall(r"\blark_[a-z_]+\b", expr)) | (
        {"up"} if re.search(r"\bup\{", expr) else set()
    )


__all__ = [
    "ALERTS",
    "DASHBOARD",
    "PROMETHEUS_DIR",
    "REPO",
    "alert_exprs",
    "dashboard",
    "dashboard_exprs",
    "grafana_expand",
    "load_yaml",
    "metric_names",
    "variable_queries",
]
