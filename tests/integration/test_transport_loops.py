"""Issue 7 item 6: a pool shared by threads with short-lived event loops does not keep one
aiohttp session per finished loop (and aiohttp warns about no unclosed session)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import warnings
from collections.abc import AsyncIterator

import pytest

from lark_service.adapters.lark_http.transport import AiohttpLarkTransport
from lark_service.application import CredentialPool, MessagingClient
from lark_service.domain.wire import LarkRequest
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark
from tests.conftest import make_apps

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pool(fake: FakeLark, base_url: str) -> AsyncIterator[CredentialPool]:
    """A pool on the aiohttp transport (sessions per loop are what is tested), over a socket."""
    async with open_pool(apps=make_apps(fake, 2), base_url=base_url) as opened:
        yield opened


def _in_thread(target: object) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert errors == []


async def test_hundred_short_lived_loops_leave_no_session(pool: CredentialPool) -> None:
    transport = pool.transport
    assert isinstance(transport, AiohttpLarkTransport)
    client = MessagingClient(pool)

    def one_loop() -> None:
        async def main() -> None:
            info = await client.get_bot_info(app_id="cli_app1")
            assert info.app_name == "App 1"

        asyncio.run(main())  # no close_loop_sessions(): the loop's shutdown releases them

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(100):
            await asyncio.to_thread(_in_thread, one_loop)
        gc.collect()
    assert transport.session_count() == 0
    unclosed = [w for w in caught if "nclosed client session" in str(w.message)]
    assert unclosed == []


async def test_loop_closed_without_shutdown_is_released_at_next_session(
    base_url: str,
) -> None:
    transport = AiohttpLarkTransport()
    request = LarkRequest(method="GET", base_url=base_url, path="/open-apis/bot/v3/info")

    def bare_loop() -> None:
        loop = asyncio.new_event_loop()
        try:  # the call fails (no token); what matters is the session it leaves behind
            loop.run_until_complete(_ignore_errors(transport.call(request)))
        finally:
            loop.close()  # closed without shutdown_asyncgens(): nothing closed its session

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            await asyncio.to_thread(_in_thread, bare_loop)
        assert transport.session_count() <= 1
        await _ignore_errors(transport.call(request))
        assert transport.session_count() == 1  # only this loop's
        await transport.close_loop_sessions()
        assert transport.session_count() == 0
        await transport.aclose()
        gc.collect()
    assert [w for w in caught if "nclosed client session" in str(w.message)] == []


async def _ignore_errors(call: object) -> None:
    with contextlib.suppress(Exception):
        await call  # type: ignore[misc]
