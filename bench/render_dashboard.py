"""Render the Grafana dashboard's panels to PNG from real Prometheus range queries.

Every panel of ops/grafana/dashboards/lark-service.json becomes a plot of its queries over a
time range, so a reviewer sees what operators will see without running Grafana. Variables are
expanded as Grafana does with "All" selected.

    python bench/render_dashboard.py --prometheus http://localhost:9091 --minutes 60 --out png/

(against the compose stack's Prometheus). tests/ops/test_prometheus_live.py renders the panels
of its own run the same way.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

DASHBOARD = Path(__file__).resolve().parent.parent / "ops/grafana/dashboards/lark-service.json"


@dataclass
class Series:
    legend: str
    times: list[float]
    values: list[float]


def expand(expr: str, rate_interval: str) -> str:
    for variable, value in (("$__rate_interval", rate_interval), ("$app", ".*"), ("$api", ".*")):
        expr = expr.replace(variable, value)
    return expr


def legend(template: str, labels: dict[str, str]) -> str:
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)
    return text.strip() or json.dumps(labels, sort_keys=True)


def query_range(
    prometheus: str, expr: str, start: float, end: float, step: float
) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    url = f"{prometheus.rstrip('/')}/api/v1/query_range?{params}"
    with urllib.request.urlopen(url, timeout=30) as reply:
        answer = json.loads(reply.read())
    if answer.get("status") != "success":
        raise RuntimeError(f"{expr}: {answer.get('error')}")
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def panel_series(
    prometheus: str,
    panel: dict[str, Any],
    *,
    start: float,
    end: float,
    step: float,
    rate_interval: str,
) -> list[Series]:
    out: list[Series] = []
    for target in panel["targets"]:
        expr = expand(target["expr"], rate_interval)
        for item in query_range(prometheus, expr, start, end, step):
            points = [(float(t), float(v)) for t, v in item["values"]]
            out.append(
                Series(
                    legend(target.get("legendFormat", ""), item["metric"]),
                    [t - start for t, _ in points],
                    [v for _, v in points],
                )
            )
    return out


def draw(ax: Axes, title: str, unit: str, series: list[Series]) -> None:
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.set_xlabel("seconds", fontsize=7)
    if unit and unit != "short":
        ax.set_ylabel(unit, fontsize=7)
    if not any(any(not math.isnan(v) for v in s.values) for s in series):
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return
    for s in series[:12]:
        ax.plot(s.times, s.values, label=s.legend[:48], linewidth=1.2)
    ax.legend(fontsize=6, loc="upper left")
    ax.grid(alpha=0.3)


def render(
    prometheus: str,
    out_dir: Path,
    *,
    start: float,
    end: float,
    step: float = 15.0,
    rate_interval: str = "1m",
) -> list[Path]:
    """Write ``dashboard.png`` (every panel) and ``panel-NN.png`` (one each); return the paths."""
    board = json.loads(DASHBOARD.read_text())
    panels = board["panels"]
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    data = [
        panel_series(prometheus, p, start=start, end=end, step=step, rate_interval=rate_interval)
        for p in panels
    ]
    rows = math.ceil(len(panels) / 2)
    fig, axes = plt.subplots(rows, 2, figsize=(14, 3.2 * rows), squeeze=False)
    for i, (panel, series) in enumerate(zip(panels, data, strict=True)):
        unit = panel["fieldConfig"]["defaults"].get("unit", "")
        draw(axes[i // 2][i % 2], panel["title"], unit, series)
        single, ax = plt.subplots(figsize=(7, 3.2))
        draw(ax, panel["title"], unit, series)
        single.tight_layout()
        path = out_dir / f"panel-{i + 1:02d}.png"
        single.savefig(path, dpi=100)
        plt.close(single)
        written.append(path)
    for j in range(len(panels), rows * 2):
        axes[j // 2][j % 2].axis("off")
    fig.suptitle(board["title"])
    fig.tight_layout()
    path = out_dir / "dashboard.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    written.insert(0, path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prometheus", default="http://localhost:9091")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--step", type=float, default=15.0, help="seconds between points")
    parser.add_argument("--rate-interval", default="1m", help="what $__rate_interval becomes")
    parser.add_argument("--out", type=Path, default=Path("dashboard-png"))
    args = parser.parse_args(argv)
    end = time.time()
    paths = render(
        args.prometheus,
        args.out,
        start=end - args.minutes * 60,
        end=end,
        step=args.step,
        rate_interval=args.rate_interval,
    )
    print("\n".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
