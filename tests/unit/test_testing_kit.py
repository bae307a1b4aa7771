"""The test kit: the in-process transport, `fake_pool`, virtual time, the seeding control plane."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lark_service import AppConfig, MessagingClient, open_pool
from lark_service.adapters.lark_http import NO_RETRY, RetryPolicy
from lark_service.adapters.memory import InMemoryMetrics
from lark_service.application.clients.contact import ContactClient
from lark_service.domain.errors import (
    PermissionDeniedError,
    ServerError,
    TokenInvalidError,
    TransportError,
)
from lark_service.domain.wire import FormField, LarkRequest
from lark_service.testing import FakeLark, FakeRequest, InProcessLarkTransport, fake_pool
from lark_service.testing.fake_lark import apaas, bitable, contact_directory
from lark_service.testing.fake_lark.server import HandlerResult
from lark_service.testing.virtual_time import loop_clock

pytestmark = pytest.mark.anyio

BOT = "/open-apis/bot/v3/info"


def request(path: str = BOT, **over: Any) -> LarkRequest:
    fields: dict[str, Any] = {"method": "GET", "base_url": "https://x", "path": path}
    fields.update(over)
    return LarkRequest(**fields)


async def test_fake_pool_registers_apps_and_calls_in_memory(fake: FakeLark) -> None:
    apps = [AppConfig(app_id="cli_kit", app_secret="kit-secret", name="Kit")]
    async with fake_pool(fake, apps=apps) as pool:
        info = await MessagingClient(pool).get_bot_info()
    assert info.app_name == "Kit" and fake.token_requests("cli_kit") == 1
    # without apps: every app the fake knows
    async with fake_pool(fake) as pool:
        assert [a.app_id for a in pool.apps.list()] == ["cli_kit"]


async def test_open_pool_takes_the_transport_for_calls_and_tokens(fake: FakeLark) -> None:
    fake.add_app("cli_open", "s", name="Open")
    metrics = InMemoryMetrics()
    transport = InProcessLarkTransport(fake, metrics=metrics)
    app = AppConfig(app_id="cli_open", app_secret="s", domain="lark")  # any domain: the fake
    async with open_pool(apps=[app], transport=transport, metrics=metrics) as pool:
        assert (await MessagingClient(pool).get_bot_info()).app_name == "Open"
    assert fake.token_requests("cli_open") == 1
    assert [r.path for r in fake.requests][-1] == BOT
    # the caller's transport stays the caller's: open_pool does not close it
    with pytest.raises(TokenInvalidError):  # still open: Lark's 99991661 for no token
        await transport.call(request())
    await transport.aclose()
    with pytest.raises(TransportError, match="closed"):
        await transport.call(request())


async def test_drop_and_timeout_are_transport_errors(fake: FakeLark) -> None:
    transport = InProcessLarkTransport(fake, retry=NO_RETRY, timeout=1.0)
    fake.inject_fault("drop")
    with pytest.raises(TransportError, match="ConnectionResetError"):
        await transport.call(request())
    fake.inject_fault("latency", latency=5.0)
    clock = loop_clock()
    started = clock()
    with pytest.raises(TransportError, match="TimeoutError"):
        await transport.call(request())
    assert 1.0 <= clock() - started < 2.0


async def test_retries_follow_the_policy_like_the_aiohttp_transport(fake: FakeLark) -> None:
    metrics = InMemoryMetrics()
    transport = InProcessLarkTransport(fake, retry=RetryPolicy(max_attempts=3), metrics=metrics)
    fake.add_app("cli_retry", "s")
    fake.inject_fault("5xx", count=2)
    token = request(
        "/open-apis/auth/v3/tenant_access_token/internal",
        method="POST",
        body=b'{"app_id":"cli_retry","app_secret":"s"}',
        idempotent=True,
    )
    reply = await transport.call(token)
    assert reply.http_status == 200 and b"tenant_access_token" in bytes(reply.data)
    assert metrics.retries[("", "", "ServerError")] == 2
    fake.inject_fault("5xx", count=3)
    with pytest.raises(ServerError):
        await transport.call(token)


async def test_handler_failure_is_a_500_server_error(
    fake: FakeLark, caplog: pytest.LogCaptureFixture
) -> None:
    @fake.route("GET", "/open-apis/kit/boom")
    async def boom(req: FakeRequest) -> HandlerResult:
        raise RuntimeError("bug in a fake handler")

    transport = InProcessLarkTransport(fake, retry=NO_RETRY)
    with pytest.raises(ServerError) as info:
        await transport.call(request("/open-apis/kit/boom"))
    assert info.value.http_status == 500
    assert "bug in a fake handler" in caplog.text


async def test_multipart_and_query_reach_the_fake_as_over_a_socket(fake: FakeLark) -> None:
    seen: list[tuple[str, bytes, list[tuple[str, str]]]] = []

    @fake.route("POST", "/open-apis/kit/form")
    async def form(req: FakeRequest) -> HandlerResult:
        seen.append((req.headers["content-type"], req.body, list(req.query.multi_items())))
        return {"parts": sorted(req.form())}

    transport = InProcessLarkTransport(fake, retry=NO_RETRY)
    fields = [
        FormField(name="file_type", value="pdf"),
        FormField(name="file", value=b"%PDF", filename="a b.pdf", content_type="application/pdf"),
    ]
    reply = await transport.call(
        request(
            "/open-apis/kit/form", method="POST", form=fields, query=[("q", "a b&c"), ("q", "2")]
        )
    )
    assert bytes(reply.data) == b'{"parts":["file","file_type"]}'
    ctype, body, query = seen[0]
    assert ctype.startswith("multipart/form-data; boundary=") and b"%PDF" in body
    assert query == [("q", "a b&c"), ("q", "2")]


async def test_sequential_call_in_process_is_under_a_millisecond(fake: FakeLark) -> None:
    async with fake_pool(fake, apps=[AppConfig(app_id="cli_fast", app_secret="s")]) as pool:
        client = MessagingClient(pool)
        await client.get_bot_info()
        fake.record_requests = False
        started = time.perf_counter()
        for _ in range(200):
            await client.get_bot_info()
        per_call = (time.perf_counter() - started) / 200
    assert per_call < 0.001, f"{per_call * 1000:.3f} ms"


async def test_virtual_time_skips_sleeps_but_waits_for_threads() -> None:
    clock = loop_clock()
    real, virtual = time.perf_counter(), clock()
    await asyncio.sleep(3600)
    assert clock() - virtual >= 3600 and time.perf_counter() - real < 1.0
    # a thread's work takes real time; a timer meanwhile must not fire early
    started = time.perf_counter()
    await asyncio.wait_for(asyncio.to_thread(time.sleep, 0.05), timeout=5)
    assert time.perf_counter() - started >= 0.05


@pytest.fixture
async def control(fake: FakeLark) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as http:
        yield http


async def test_control_plane_seeds_what_the_python_api_seeds(
    fake: FakeLark, control: httpx.AsyncClient
) -> None:
    fake.add_app("cli_seed", "s")

    async def post(path: str, body: dict[str, Any]) -> Any:
        reply = await control.post(path, json=body)
        assert reply.status_code == 200, reply.text
        return reply.json()["data"]

    dept = await post("/_fake/contact/departments", {"app_id": "cli_seed", "name": "Ops"})
    users = await post(
        "/_fake/contact/users",
        {"app_id": "cli_seed", "department_id": dept["open_department_id"], "count": 3},
    )
    one = await post("/_fake/contact/users", {"app_id": "cli_seed", "name": "Ann"})
    chat = await post(
        "/_fake/contact/chats", {"app_id": "cli_seed", "chat_id": "oc_seed", "members": 2}
    )
    directory = contact_directory.directory(fake, "cli_seed")
    assert directory.departments[dept["open_department_id"]]["name"] == "Ops"
    assert len(users["items"]) == 3 and one["items"][0]["name"] == "Ann"
    assert chat["chat_id"] == "oc_seed" and "oc_seed" in directory.chats

    table = await post(
        "/_fake/bitable/tables",
        {
            "app_token": "bascnSeed",
            "name": "T",
            "fields": {"Name": 1, "N": 2},
            "records": [{"Name": "a", "N": 1}],
        },
    )
    assert len(bitable.records(fake, "bascnSeed", table["table_id"])) == 1
    listed = await control.get(
        "/_fake/bitable/records", params={"app_token": "bascnSeed", "table_id": table["table_id"]}
    )
    assert len(listed.json()["data"]["items"]) == 1

    await post(
        "/_fake/apaas/tables",
        {
            "workspace_id": "ws_1",
            "name": "orders",
            "columns": {"title": "text"},
            "rows": [{"title": "x"}],
        },
    )
    assert [r["title"] for r in apaas.rows(fake, "ws_1", "orders")] == ["x"]

    sheet = await post("/_fake/sheets", {"app_id": "cli_seed", "title": "Book"})
    assert sheet["spreadsheet_token"].startswith("shtcn")
    token = await post("/_fake/user_tokens", {"app_id": "cli_seed", "user_id": "ou_1"})
    assert token["access_token"].startswith("u-")
    await post("/_fake/auth_codes", {"app_id": "cli_seed", "user_id": "ou_1", "code": "c1"})
    await post("/_fake/im/bot_not_in_chat", {"app_id": "cli_seed", "chat_id": "oc_x"})
    assert ("cli_seed", "oc_x") in fake.state["im_bot_not_in_chat"]
    await post("/_fake/im/rate_scale", {"scale": 0})
    assert fake.state["im_rate_scale"] == 0
    await post("/_fake/scopes", {"app_id": "cli_seed", "area": "contact"})
    async with fake_pool(fake) as pool:
        with pytest.raises(PermissionDeniedError) as info:
            await ContactClient(pool).get_department("0")
    assert info.value.code == 99991672

    bad = await control.post("/_fake/contact/users", json={"app_id": "cli_nobody"})
    assert bad.status_code == 400 and bad.json()["code"] == 9499
    bad = await control.post("/_fake/scopes", json={"app_id": "cli_seed", "area": "mail"})
    assert bad.status_code == 400 and "unknown area" in bad.json()["msg"]
