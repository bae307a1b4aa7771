"""The fake Lark over real sockets: the in-thread server, the ``fake-lark`` and ``demo``
commands, the aiohttp transport end to end (moved from tests/unit, which use no sockets)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from lark_service import AppConfig, MessagingClient, open_pool
from lark_service.adapters.lark_http import AiohttpLarkTransport, RetryPolicy
from lark_service.domain.errors import TransportError
from lark_service.domain.wire import LarkRequest
from lark_service.entrypoints.cli import main
from lark_service.testing import FakeLark, serve_in_thread

pytestmark = pytest.mark.integration

TENANT = "/open-apis/auth/v3/tenant_access_token/internal"
BOT = "/open-apis/bot/v3/info"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake() -> FakeLark:
    fake = FakeLark(start_time=1_700_000_000.0)
    fake.add_app("cli_a", "secret_a", name="App A")
    return fake


def test_serve_in_thread_real_socket(fake: FakeLark) -> None:
    with serve_in_thread(fake) as running:
        assert running.base_url.startswith("http://127.0.0.1:") and running.port > 0
        with httpx.Client(base_url=running.base_url) as http:
            token = http.post(TENANT, json={"app_id": "cli_a", "app_secret": "secret_a"})
            headers = {"Authorization": f"Bearer {token.json()['tenant_access_token']}"}
            r = http.get(BOT, headers=headers)
            assert r.json()["bot"]["app_name"] == "App A" and r.headers["X-Tt-Logid"]
            fake.inject_fault("drop")
            with pytest.raises(httpx.RemoteProtocolError):
                http.get(BOT)
            assert http.get(BOT).json()["code"] == 99991661
    with pytest.raises(httpx.ConnectError), httpx.Client(base_url=running.base_url) as http:
        http.get(BOT)


@pytest.mark.anyio
async def test_open_pool_over_a_socket_sequential_calls_are_fast(fake: FakeLark) -> None:
    """open_pool(base_url=...) with the aiohttp transport; TCP_NODELAY on the server's
    sockets keeps a sequential call far below Nagle's ~40 ms delay."""
    app = AppConfig(app_id="cli_a", app_secret="secret_a")
    with serve_in_thread(fake) as running:
        async with open_pool(apps=[app], base_url=running.base_url) as pool:
            client = MessagingClient(pool)
            assert (await client.get_bot_info()).app_name == "App A"
            started = time.perf_counter()
            for _ in range(20):
                await client.get_bot_info(app_id="cli_a")
            per_call = (time.perf_counter() - started) / 20
            await client.send_text("oc_socket", "hi", app_id="cli_a")
            token = await pool.tenant_access_token()
        # a bare-token client builds the default (aiohttp) transport itself
        async with MessagingClient(access_token=token, base_url=running.base_url) as bare:
            assert (await bare.get_bot_info()).app_name == "App A"
    assert len(fake.messages) == 1
    assert per_call < 0.02, f"{per_call * 1000:.1f} ms per sequential call"


@pytest.mark.anyio
async def test_transport_error_when_nothing_listens() -> None:
    transport = AiohttpLarkTransport(retry=RetryPolicy(max_attempts=2, base_delay=0.001))
    try:
        with pytest.raises(TransportError):
            await transport.call(
                LarkRequest(
                    method="GET",
                    base_url="http://127.0.0.1:9",
                    path="/open-apis/x",
                    idempotent=True,
                )
            )
    finally:
        await transport.aclose()


def test_demo_shows_resolution_single_flight_and_recovery(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--calls", "200"]) == 0
    out = capsys.readouterr().out
    assert "-> HR bot" in out and "-> Alerting bot (the pool's default)" in out
    assert "cli_demo_alerts: 1 token request(s)" in out
    assert "cli_demo_hr: 1 token request(s)" in out
    assert "after 1 token refresh" in out


def test_fake_lark_command_serves_the_fake() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lark_service.entrypoints.cli",
            "fake-lark",
            "--port",
            str(port),
            "--app",
            "cli_cmdline:sec",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                reply = httpx.post(
                    f"http://127.0.0.1:{port}{TENANT}",
                    json={"app_id": "cli_cmdline", "app_secret": "sec"},
                )
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("fake-lark did not start")
        assert reply.json()["tenant_access_token"].startswith("t-")
    finally:
        proc.terminate()
        proc.wait(10)
