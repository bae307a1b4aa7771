"""HTTP API: OpenAPI and docs, health and readiness, unknown routes, no tracebacks."""

from __future__ import annotations

import dataclasses
import json

import pytest
from litestar.testing import AsyncTestClient

from lark_service.adapters.memory.jobs import InMemoryJobStore
from lark_service.adapters.memory.send_queue import InMemorySendQueue
from lark_service.application import CredentialPool
from lark_service.application.usecases.sending import SendingService
from lark_service.domain.jobs import JobRecord
from lark_service.entrypoints.http import create_app
from lark_service.entrypoints.http.wiring import open_services

from .http_support import Api, api_fixture  # noqa: F401  (fixture)

pytestmark = pytest.mark.anyio


async def test_openapi_spec_and_docs(api: Api) -> None:
    r = await api.client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["openapi"].startswith("3.1")
    paths = spec["paths"]
    for path in (
        "/v1/messages",
        "/v1/jobs/{job_id}",
        "/v1/messages/{message_id}/reply",
        "/v1/users/{user_id}",
        "/v1/departments/{department_id}",
        "/v1/chats/{chat_id}",
        "/v1/docx/documents",
        "/v1/apps",
        "/v1/apps/{app_id}/validate",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    send = paths["/v1/messages"]["post"]
    assert send["security"] == [{"bearer": []}]
    responses = send["responses"]
    assert {"200", "202", "401", "403", "422", "429"} <= set(responses)
    assert "application/problem+json" in responses["401"]["content"]
    assert "JobAccepted" in json.dumps(responses["202"])
    assert (
        "/v1/apps/{app_id}" in paths
        and "/v1/apaas/workspaces/{workspace_id}/tables/{table_name}/records" in paths
    )
    docs = await api.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_healthz_and_readyz(api: Api) -> None:
    r = await api.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await api.client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"store": "ok"}


async def test_readyz_503_names_the_failing_dependency(api: Api) -> None:
    async def broken() -> str | None:
        raise ConnectionRefusedError("refused")

    async def broker_down() -> str | None:
        return "broker not connected"

    services = dataclasses.replace(
        api.services, readiness=[("store", broken), ("broker", broker_down)]
    )
    async with AsyncTestClient(app=create_app(services)) as client:
        r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"] == {
        "store": "ConnectionRefusedError: refused",
        "broker": "broker not connected",
    }


async def test_unknown_route_and_method_are_problems(api: Api) -> None:
    r = await api.client.get("/v1/nothing-here", headers=api.admin)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await api.client.patch("/v1/messages", headers=api.admin)
    assert r.status_code == 405


class ExplodingJobStore(InMemoryJobStore):
    """A store failing in a way no adapter should: an untyped exception."""

    async def get_job(self, job_id: str) -> JobRecord | None:
        raise RuntimeError("secret-ish internals")


async def test_unexpected_error_is_a_bare_500(api: Api) -> None:
    sending = api.services.sending
    broken = SendingService(
        messaging=sending.messaging,
        jobs=ExplodingJobStore(),
        queue=sending.queue,
        clock=sending.clock,
    )
    services = dataclasses.replace(api.services, sending=broken)
    async with AsyncTestClient(app=create_app(services)) as client:
        r = await client.get("/v1/jobs/x", headers=api.admin)
    assert r.status_code == 500 and r.json()["title"] == "Internal error"
    assert "secret-ish" not in r.text and "Traceback" not in r.text


async def test_external_queue_is_published_to_not_consumed(pool: CredentialPool) -> None:
    broker = InMemorySendQueue()  # stands in for the RabbitMQ adapter, whose worker runs elsewhere

    async def broker_ready() -> str | None:
        return None

    async with open_services(pool, queue=broker, readiness=[("broker", broker_ready)]) as services:
        key = (await services.keys.create(["send"])).key
        async with AsyncTestClient(app=create_app(services)) as client:
            r = await client.post(
                "/v1/messages",
                json={"receive_id": "oc_1", "msg_type": "text", "content": {"text": "x"}},
                headers={"Authorization": f"Bearer {key}", "Prefer": "respond-async"},
            )
            assert r.status_code == 202
            ready = await client.get("/readyz")
        assert ready.json()["checks"] == {"store": "ok", "broker": "ok"}
        assert (await broker.depth()).ready == 1
        record = await services.sending.get_job(r.json()["job_id"])
        assert record.status == "queued"
        await broker.consume(services.sending.handle_job)  # what the worker process does
        await broker.join(within=5)
        assert (await services.sending.get_job(record.job_id)).status == "sent"
    await broker.aclose()
