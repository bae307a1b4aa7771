"""The service and the worker, run as `lark-service serve` and `lark-service worker`, serve
`/metrics`: after real traffic (sends, a Lark error, a rate-limited reply, a queued job, an
event) every family is there, with its labels and the values the traffic implies."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lark_service.testing.fake_lark import FakeLark
from tests.e2e.support import LarkServiceProcess
from tests.integration.amqp_scratch import AMQP_URL, scratch_prefix
from tests.unit.events_support import event_v2

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.anyio]

DEADLINE = 60.0
ADMIN_KEY = "metrics-admin-key-0123456789abcdef"
TOKEN = "metrics-verification-token"
Samples = dict[str, list[tuple[dict[str, str], float]]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def scrape(port: int) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        v for got, v in samples.get(name, []) if all(got.get(k) == x for k, x in labels.items())
    )


def wait_until(check: object, what: str, *procs: LarkServiceProcess) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.TransportError:
            pass
        for proc in procs:
            assert proc.proc.poll() is None, proc.output()
        assert time.monotonic() < deadline, f"{what}:\n" + "\n".join(p.output() for p in procs)
        time.sleep(0.1)


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async with scratch_prefix(delays=(1.0, 5.0, 30.0, 120.0)) as scratch:
        yield scratch


async def test_service_and_worker_serve_every_family(
    fake: FakeLark, base_url: str, tmp_path: Path, prefix: str
) -> None:
    fake.add_app("cli_m", "secret-m")
    apps = tmp_path / "apps.toml"
    apps.write_text(
        f'[[apps]]\napp_id = "cli_m"\napp_secret = "secret-m"\nverification_token = "{TOKEN}"\n'
    )
    common = {
        "LARK_SERVICE_DATA_DIR": str(tmp_path / "data"),
        "LARK_SERVICE_APPS_FILE": str(apps),
        "LARK_SERVICE_BASE_URL": base_url,
        "LARK_SERVICE_AMQP_URL": AMQP_URL,
        "LARK_SERVICE_AMQP_PREFIX": prefix,
        "LARK_SERVICE_ADMIN_KEY": ADMIN_KEY,
        "LARK_SERVICE_METRICS_ENABLED": "true",
        "LARK_SERVICE_METRICS_HOST": "127.0.0.1",
        "LARK_SERVICE_LOG_LEVEL": "WARNING",
    }
    http_port, service_metrics, worker_metrics = free_port(), free_port(), free_port()
    service = LarkServiceProcess(
        ["serve", "--port", str(http_port)],
        {**common, "LARK_SERVICE_METRICS_PORT": str(service_metrics)},
        tmp_path / "serve.log",
    )
    worker: LarkServiceProcess | None = None
    api = f"http://127.0.0.1:{http_port}"
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    body = {"receive_id": "oc_metrics", "msg_type": "text", "content": {"text": "hi"}}
    try:
        wait_until(lambda: httpx.get(f"{api}/healthz").status_code == 200, "serve", service)
        # started once serve has migrated the embedded SQLite file they share (in compose, the
        # one-shot migration service plays that part)
        worker = LarkServiceProcess(
            ["worker"],
            {**common, "LARK_SERVICE_METRICS_PORT": str(worker_metrics)},
            tmp_path / "worker.log",
        )
        wait_until(lambda: scrape(worker_metrics) is not None, "worker metrics", worker)
        # a send; a rate-limited reply (retried after Lark's reset); a Lark error (5xx)
        assert httpx.post(f"{api}/v1/messages", json=body, headers=auth).status_code == 200
        fake.inject_fault("rate_limit", path_prefix="/open-apis/im/", count=1, retry_after=0)
        assert httpx.post(f"{api}/v1/messages", json=body, headers=auth).status_code == 200
        fake.inject_fault("5xx", path_prefix="/open-apis/im/", count=100)
        failed = httpx.post(f"{api}/v1/messages", json=body, headers=auth, timeout=30)
        assert failed.status_code == 502, failed.text
        fake.clear_faults()
        # a queued job, sent by the worker
        queued = httpx.post(
            f"{api}/v1/messages", json=body, headers={**auth, "Prefer": "respond-async"}
        )
        assert queued.status_code == 202
        job = f"{api}/v1/jobs/{queued.json()['job_id']}"
        wait_until(
            lambda: httpx.get(job, headers=auth).json()["status"] == "sent",
            "the queued job",
            service,
            worker,
        )
        # an event from Lark, delivered twice
        event = event_v2(app_id="cli_m", token=TOKEN)
        for _ in range(2):
            assert httpx.post(f"{api}/v1/events/cli_m", content=event).status_code == 200
        assert (
            httpx.get(f"{api}/v1/jobs/x", headers={"Authorization": "Bearer nope"}).status_code
            == 401
        )

        s = scrape(service_metrics)
        assert total(s, "lark_api_calls_total", app_id="cli_m", api="im.message.create") >= 3
        assert total(s, "lark_api_calls_total", app_id="cli_m", outcome="ServerError") == 1
        assert total(s, "lark_api_call_duration_seconds_count", app_id="cli_m") >= 3
        assert total(s, "lark_rate_limited_total", app_id="cli_m") == 1
        assert total(s, "lark_retries_total", app_id="cli_m", reason="RateLimitedError") == 1
        assert total(s, "lark_retries_total", app_id="cli_m", reason="ServerError") >= 1
        assert total(s, "lark_token_fetches_total", app_id="cli_m", kind="tenant") >= 1
        assert total(s, "lark_token_expires_in_seconds", app_id="cli_m", kind="tenant") > 0
        http = "lark_service_http_requests_total"
        assert total(s, http, route="/v1/messages", method="POST", status="200") == 2
        assert total(s, http, route="/v1/messages", method="POST", status="502") == 1
        assert total(s, http, route="/v1/messages", method="POST", status="202") == 1
        assert total(s, http, status="401") == 1
        assert total(s, "lark_service_http_request_duration_seconds_count") >= 5
        event_type = "im.message.receive_v1"
        assert total(s, "lark_events_received_total", app_id="cli_m", event_type=event_type) == 2
        deduplicated = "lark_events_deduplicated_total"
        assert total(s, deduplicated, app_id="cli_m", event_type=event_type) == 1
        assert total(s, "lark_send_jobs_total", app_id="cli_m", outcome="published") == 1
        # bounded labels only: no chat, message, job id or token anywhere
        text = httpx.get(f"http://127.0.0.1:{service_metrics}/metrics").text
        for leak in ("oc_metrics", queued.json()["job_id"], "secret-m", ADMIN_KEY, TOKEN):
            assert leak not in text

        w = scrape(worker_metrics)
        assert total(w, "lark_send_jobs_total", app_id="cli_m", outcome="sent") == 1
        assert total(w, "lark_api_calls_total", app_id="cli_m", outcome="ok") == 1
        assert "lark_send_queue_depth" in w
        assert {labels["queue"] for labels, _ in w["lark_send_queue_depth"]} == {
            "lark.send",
            "lark.send.dead",
        }
    finally:
        for proc in (worker, service):
            if proc is not None and proc.proc.poll() is None:
                proc.terminate()
