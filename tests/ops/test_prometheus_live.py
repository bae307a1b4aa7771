"""A real Prometheus scrapes a process under traffic; every dashboard and alert query returns data.

The repo's prometheus.yml is used with its targets rewritten to loopback: the "service" target
serves a registry fed by the credential pool calling the fake Lark server (successes, Lark auth
errors, a rate-limited reply, limiter waits, slow calls, token refreshes and a token close to
expiry), plus a replica that is down; the "worker" target serves the send-queue families.
HTTP API, event and send-job families are recorded directly through `OtelMetrics`, as the
service and the worker will (their code lands separately). Every alert's condition is met
by this traffic, so each alert expression returns data and every alert becomes pending.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from lark_service.adapters.lark_http import RetryPolicy
from lark_service.adapters.otel import (
    MetricsServer,
    OtelMetrics,
    serve_metrics,
)
from lark_service.application import ContactClient, CredentialPool, MessagingClient
from lark_service.application.rate_limit import Limit, RateLimiter
from lark_service.domain import AppConfig, LarkServiceError
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark, serve_in_thread
from lark_service.testing.fake_lark.contact_directory import add_user
from tests.ops.promql import (
    PROMETHEUS_DIR,
    alert_exprs,
    dashboard_exprs,
    grafana_expand,
    variable_queries,
)

PROMETHEUS = shutil.which("prometheus")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.anyio,
    pytest.mark.timeout(90),
    pytest.mark.skipif(
        PROMETHEUS is None,
        reason="prometheus missing: apt-get install -y prometheus (.ci/run does)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return json.loads(reply.read())


@dataclass
class Prometheus:
    url: str

    def query(self, expr: str) -> dict[str, Any]:
        """The ``data`` of an instant query at the current time; fails on any error."""
        answer = http_json(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert answer["status"] == "success", (expr, answer)
        data: dict[str, Any] = answer["data"]
        return data

    def label_values(self, label: str, selector: str) -> list[str]:
        query = urllib.parse.urlencode({"match[]": selector})
        answer = http_json(f"{self.url}/api/v1/label/{label}/values?{query}")
        assert answer["status"] == "success", (label, selector, answer)
        values: list[str] = answer["data"]
        return values


def write_config(tmp: Path, *, service: list[str], worker: list[str], self_port: int) -> Path:
    """The repo's prometheus.yml with loopback targets and a 1 s scrape / evaluation interval."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
    targets = {
        "lark-service": service,
        "lark-service-worker": worker,
        "prometheus": [f"127.0.0.1:{self_port}"],
    }
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp / "alerts.yml")
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def fake() -> Iterator[tuple[FakeLark, str]]:
    """A fake Lark of this test's own: it moves the fake clock, which others must not see."""
    fake = FakeLark()
    with serve_in_thread(fake) as running:
        yield fake, running.base_url


@pytest.fixture
def registries() -> Iterator[tuple[CollectorRegistry, CollectorRegistry]]:
    yield CollectorRegistry(), CollectorRegistry()


@pytest.fixture
def servers(
    registries: tuple[CollectorRegistry, CollectorRegistry],
) -> Iterator[tuple[MetricsServer, MetricsServer]]:
    service = serve_metrics(0, addr="127.0.0.1", registry=registries[0])
    worker = serve_metrics(0, addr="127.0.0.1", registry=registries[1])
    yield service, worker
    service.close()
    worker.close()


@pytest.fixture
def prometheus(
    tmp_path: Path, servers: tuple[MetricsServer, MetricsServer]
) -> Iterator[Prometheus]:
    assert PROMETHEUS is not None
    port = free_port()
    down = free_port()  # nothing listens here: a replica that is down
    config = write_config(
        tmp_path,
        service=[f"127.0.0.1:{servers[0].port}", f"127.0.0.1:{down}"],
        worker=[f"127.0.0.1:{servers[1].port}"],
        self_port=port,
    )
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        "prometheus did not start: " + (tmp_path / "prometheus.log").read_text()
                    ) from None
                time.sleep(0.2)
        yield Prometheus(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


class FakeClock:
    """The pool reads the fake server's clock, so both agree on expiry."""

    def __init__(self, fake: FakeLark) -> None:
        self._fake = fake

    def now(self) -> float:
        return self._fake.now()


@pytest.fixture
async def traffic_pool(
    fake: tuple[FakeLark, str], registries: tuple[CollectorRegistry, CollectorRegistry]
) -> AsyncIterator[tuple[CredentialPool, OtelMetrics, OtelMetrics]]:
    server, base_url = fake
    service = OtelMetrics.prometheus(registries[0])
    worker = OtelMetrics.prometheus(registries[1], service_name="lark-service-worker")
    apps = []
    for app_id in ("cli_ok", "cli_slow", "cli_idle"):
        server.add_app(app_id, f"secret-{app_id}")
        apps.append(AppConfig(app_id=app_id, app_secret=f"secret-{app_id}"))
    server.add_app("cli_bad", "the-right-secret")
    apps.append(AppConfig(app_id="cli_bad", app_secret="a-wrong-secret"))
    limiter = RateLimiter({"contact": Limit(per_second=4)}, margin=0.0)
    async with open_pool(
        apps=apps,
        base_url=base_url,
        metrics=service,
        clock=FakeClock(server),
        limiter=limiter,
        retry=RetryPolicy(base_delay=0.01, max_delay=0.05),
    ) as pool:
        yield pool, service, worker
    service.shutdown()
    worker.shutdown()


async def drive(
    fake: FakeLark,
    pool: CredentialPool,
    service: OtelMetrics,
    worker: OtelMetrics,
    prometheus: Prometheus,
    rounds: int,
) -> None:
    messaging, contact = MessagingClient(pool), ContactClient(pool)
    user = add_user(fake, "cli_ok", name="Ann")
    await pool.tenant_access_token("cli_idle")  # cached once, never used again
    await messaging.get_bot_info(app_id="cli_slow")
    # rate() counts only what happens after a series' first sample
    await wait_for(
        prometheus,
        'lark_api_call_duration_seconds_count{app_id="cli_slow"}',
        time.monotonic() + 15,
    )
    # slow calls, alone: p95 of cli_slow's bot.info lands above the 2 s alert threshold
    fake.inject_fault("latency", path_prefix="/open-apis/bot", count=6, latency=2.6)
    await pool.tenant_access_token("cli_slow")
    await asyncio.gather(*(messaging.get_bot_info(app_id="cli_slow") for _ in range(6)))
    # 100 s left on every cached token: the idle app's gauge drops under the alert's 120 s, the
    # busy apps refresh theirs in the background
    fake.advance(7200 - 100)
    for i in range(rounds):
        for _ in range(4):
            await messaging.get_bot_info(app_id="cli_ok")
        await messaging.get_bot_info(app_id="cli_slow")
        fake.inject_fault("rate_limit", path_prefix="/open-apis/bot", count=1, retry_after=0)
        await messaging.get_bot_info(app_id="cli_ok")
        # the pool backs off a failing token fetch; forgetting the app's tokens (as an operator
        # fixing its secret would) lets every round fetch again, so the failures keep growing
        pool.forget_tokens("cli_bad")
        with pytest.raises(LarkServiceError):
            await messaging.get_bot_info(app_id="cli_bad")
        # five calls against a 4 per second family: the limiter delays some
        await asyncio.gather(
            *(contact.get_user(user["open_id"], app_id="cli_ok") for _ in range(5))
        )
        # what the HTTP API, the event intake and the worker will record
        for status, seconds in ((202, 1.4), (202, 1.6), (503, 0.01), (200, 0.002)):
            route = "/healthz" if status == 200 else "/v1/messages"
            service.http_request(route=route, method="POST", status=status, seconds=seconds)
        service.event_received(app_id="cli_ok", event_type="im.message.receive_v1")
        service.event_rejected(app_id="unknown", event_type="unknown", reason="bad_signature")
        service.event_deduplicated(app_id="cli_ok", event_type="im.message.receive_v1")
        service.send_job(app_id="cli_ok", outcome="published")
        for outcome in ("sent", "failed", "dead_lettered"):
            worker.send_job(app_id="cli_ok", outcome=outcome)
        worker.queue_depth(queue="lark.send", messages=600 + 50 * i)
        worker.queue_depth(queue="lark.send.dead", messages=i)
        await asyncio.sleep(0.7)


async def wait_for(prometheus: Prometheus, expr: str, deadline: float) -> None:
    while not prometheus.query(expr)["result"]:
        assert time.monotonic() < deadline, f"no data for {expr}"
        await asyncio.sleep(0.5)


async def test_every_dashboard_and_alert_query_returns_data(
    fake: tuple[FakeLark, str],
    traffic_pool: tuple[CredentialPool, OtelMetrics, OtelMetrics],
    prometheus: Prometheus,
    tmp_path: Path,
) -> None:
    pool, service, worker = traffic_pool
    started = time.time()
    await drive(fake[0], pool, service, worker, prometheus, rounds=10)
    deadline = time.monotonic() + 20
    # the last round's samples are in, and the rules have been evaluated on them
    await wait_for(prometheus, 'lark_send_queue_depth{queue="lark.send"} >= 1050', deadline)
    await wait_for(prometheus, 'ALERTS{alertname="LarkSendQueueBackingUp"}', deadline)

    empty: list[str] = []
    queries = {
        **{f"alert {k}": v for k, v in alert_exprs().items()},
        **{f"panel {k}": v for k, v in dashboard_exprs().items()},
    }
    for name, expr in queries.items():
        data = prometheus.query(expr)
        values = [float(r["value"][1]) for r in data["result"]]
        if not values or all(v != v for v in values):  # nothing, or only NaN
            empty.append(f"{name}: {expr}")
    # template variables, asked the way Grafana asks label_values(selector, label)
    for name, query in variable_queries().items():
        selector, label = query.removeprefix("label_values(").removesuffix(")").rsplit(",", 1)
        if not prometheus.label_values(label.strip(), grafana_expand(selector)):
            empty.append(f"variable {name}: {query}")
    assert not empty, "queries without data:\n" + "\n".join(empty)

    # every alert's condition holds: each rule is healthy and its alert pending (or firing)
    rules = http_json(f"{prometheus.url}/api/v1/rules")["data"]["groups"][0]["rules"]
    assert {r["name"]: r["health"] for r in rules} == {name: "ok" for name in alert_exprs()}
    active = {
        a["labels"]["alertname"]
        for a in http_json(f"{prometheus.url}/api/v1/alerts")["data"]["alerts"]
    }
    assert active == set(alert_exprs())

    # both targets were scraped; the replica that is down shows as down
    targets = http_json(f"{prometheus.url}/api/v1/targets")["data"]["activeTargets"]
    health = sorted((t["labels"]["job"], t["health"]) for t in targets)
    assert health == [
        ("lark-service", "down"),
        ("lark-service", "up"),
        ("lark-service-worker", "up"),
        ("prometheus", "up"),
    ]

    # spot-check values against the traffic
    bad = prometheus.query('sum(lark_token_fetches_total{app_id="cli_bad",outcome!="ok"})')
    assert float(bad["result"][0]["value"][1]) >= 10
    idle = prometheus.query('lark_token_expires_in_seconds{app_id="cli_idle"}')
    assert 0 < float(idle["result"][0]["value"][1]) < 120
    refreshed = prometheus.query('sum(lark_token_refreshes_total{outcome="ok"})')
    assert float(refreshed["result"][0]["value"][1]) >= 1
    p95 = prometheus.query(
        'histogram_quantile(0.95, sum by (le) (rate(lark_api_call_duration_seconds_bucket{app_id="cli_slow"}[5m])))'
    )
    assert float(p95["result"][0]["value"][1]) > 2

    # the panels as PNG plots from range queries (bench/render_dashboard.py); set
    # LARK_SERVICE_DASHBOARD_PNG_DIR to keep them
    pytest.importorskip("matplotlib")
    from bench.render_dashboard import render

    out = Path(os.environ.get("LARK_SERVICE_DASHBOARD_PNG_DIR") or tmp_path / "png")
    paths = render(
        prometheus.url, out, start=started, end=time.time(), step=1.0, rate_interval="10s"
    )
    assert len(paths) == 1 + len({k.split(" / ")[0] for k in dashboard_exprs()})
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
