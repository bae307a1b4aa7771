"""The service records what it does in the Metrics port: HTTP requests by route template and
status, send jobs by outcome, events received / rejected / deduplicated."""

from __future__ import annotations

import pytest

from lark_service.adapters.memory.metrics import InMemoryMetrics
from lark_service.testing.fake_lark import FakeLark

from .http_support import Api, api_fixture  # noqa: F401  (fixture)

pytestmark = pytest.mark.anyio
BODY = {"receive_id": "oc_chat1", "msg_type": "text", "content": {"text": "hi"}}


def recorded(api: Api) -> InMemoryMetrics:
    metrics = api.services.pool.metrics
    assert isinstance(metrics, InMemoryMetrics)
    return metrics


async def test_requests_are_counted_by_route_template_and_status(api: Api) -> None:
    sent = await api.client.post("/v1/messages", json=BODY, headers=api.send)
    assert sent.status_code == 200
    assert (await api.client.get("/v1/jobs/no-such-job", headers=api.read)).status_code == 404
    assert (await api.client.post("/v1/messages", json=BODY)).status_code == 401
    http = recorded(api).http_requests
    assert http[("/v1/messages", "POST", 200)] == 1
    assert http[("/v1/messages", "POST", 401)] == 1
    job_routes = [key for key in http if key[0].startswith("/v1/jobs/")]
    assert job_routes == [(job_routes[0][0], "GET", 404)]
    assert "no-such-job" not in job_routes[0][0]  # the template, never the id


async def test_send_jobs_are_counted_by_outcome(api: Api, fake: FakeLark) -> None:
    headers = {**api.send, "Prefer": "respond-async"}
    assert (await api.client.post("/v1/messages", json=BODY, headers=headers)).status_code == 202
    await api.queue.join()
    fake.inject_fault("5xx", path_prefix="/open-apis/im/", count=1000)
    assert (await api.client.post("/v1/messages", json=BODY, headers=headers)).status_code == 202
    await api.queue.join()
    jobs = recorded(api).send_jobs
    assert jobs[("cli_app0", "published")] == 2
    assert jobs[("cli_app0", "sent")] == 1
    assert jobs[("cli_app0", "dead_lettered")] == 1  # once, though the queue reports it too
