"""CredentialPool against the fake Lark server: single-flight, refresh-ahead, invalidation."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import Counter

import pytest

from lark_service.adapters.memory import InMemoryAppStore, InMemoryMetrics, in_memory_stores
from lark_service.application import CredentialPool, MessagingClient
from lark_service.domain import AppConfig, AppType, TokenKind
from lark_service.entrypoints.embed import open_pool
from lark_service.testing import InProcessLarkTransport
from lark_service.testing.fake_lark import FakeLark
from tests.conftest import FAST_RETRY, make_apps

pytestmark = pytest.mark.anyio


class FakeClock:
    """The pool reads the fake server's clock, so both agree on expiry."""

    def __init__(self, fake: FakeLark) -> None:
        self._fake = fake

    def now(self) -> float:
        return self._fake.now()


async def test_1000_concurrent_first_calls_fetch_one_token(
    pool: CredentialPool, fake: FakeLark
) -> None:
    client = MessagingClient(pool)
    infos = await asyncio.gather(*(client.get_bot_info() for _ in range(1000)))
    assert {i.app_name for i in infos} == {"App 0"}
    assert fake.token_requests("cli_app0") == 1
    assert fake.token_requests() == 1


async def test_single_flight_across_four_threads_with_their_own_loops(
    pool: CredentialPool, fake: FakeLark
) -> None:
    app = pool.resolve("cli_app1")
    tokens: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        async def main() -> None:
            barrier.wait()
            got = await asyncio.gather(*(pool.get_token(app) for _ in range(250)))
            tokens.extend(got)
            client = MessagingClient(pool)
            info = await client.get_bot_info(app_id="cli_app1")
            assert info.app_name == "App 1"
            await pool.transport.close_loop_sessions()

        try:
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        await asyncio.to_thread(t.join)
    assert errors == []
    assert len(tokens) == 1000 and len(set(tokens)) == 1
    assert fake.token_requests("cli_app1") == 1


async def test_twenty_apps_first_tokens_concurrently_each_call_as_its_own_app(
    fake: FakeLark,
) -> None:
    apps = make_apps(fake, 20, prefix="cli_twenty")
    async with open_pool(apps=apps, transport=InProcessLarkTransport(fake)) as pool:
        client = MessagingClient(pool)
        calls = [a.app_id for a in apps for _ in range(25)]
        infos = await asyncio.gather(*(client.get_bot_info(app_id=a) for a in calls))
    for app_id, info in zip(calls, infos, strict=True):
        assert info.app_name == f"App {int(app_id.removeprefix('cli_twenty'))}"
    for app in apps:
        assert fake.token_requests(app.app_id) == 1
    # every request reached the fake with a token of the app it was made for
    bot_calls = [r for r in fake.requests if r.path == "/open-apis/bot/v3/info"]
    assert Counter(r.token_info.app_id for r in bot_calls if r.token_info) == Counter(calls)


async def test_refresh_ahead_keeps_serving_while_one_background_fetch_runs(fake: FakeLark) -> None:
    apps = make_apps(fake, 1, prefix="cli_ahead")
    async with open_pool(
        apps=apps, transport=InProcessLarkTransport(fake), clock=FakeClock(fake), retry=FAST_RETRY
    ) as pool:
        app = pool.resolve("cli_ahead0")
        first = await pool.get_token(app)
        # move into the refresh window: 4 minutes left, Lark will issue a new token
        fake.advance(7200 - 240)
        fake.inject_fault("latency", path_prefix="/open-apis/auth/", latency=0.3)
        served = await asyncio.gather(*(pool.get_token(app) for _ in range(100)))
        assert set(served) == {first}, "callers must not wait while the token is refreshed"
        assert pool._flights.busy(("cli_ahead0", TokenKind.TENANT, ""))
        while pool._flights.busy(("cli_ahead0", TokenKind.TENANT, "")):
            await asyncio.sleep(0.02)
        second = await pool.get_token(app)
        assert second != first
        assert fake.token_requests("cli_ahead0") == 2


async def test_token_invalidated_mid_run_one_refresh_calls_succeed(
    pool: CredentialPool, fake: FakeLark
) -> None:
    client = MessagingClient(pool)
    await asyncio.gather(*(client.get_bot_info() for _ in range(50)))
    assert fake.token_requests("cli_app0") == 1
    fake.invalidate_tokens("cli_app0")
    infos = await asyncio.gather(*(client.get_bot_info() for _ in range(200)))
    assert len(infos) == 200
    assert fake.token_requests("cli_app0") == 2
    assert pool.metrics.retries[("cli_app0", "bot.info", "token_invalid")] >= 1  # type: ignore[attr-defined]


async def test_stored_valid_token_is_reused_without_a_fetch(fake: FakeLark) -> None:
    apps = make_apps(fake, 1, prefix="cli_restart")
    stores = in_memory_stores()
    async with open_pool(apps=apps, transport=InProcessLarkTransport(fake), stores=stores) as pool:
        await MessagingClient(pool).get_bot_info()
    assert fake.token_requests("cli_restart0") == 1
    # a new pool ("restarted replica") on the same store: no token request
    async with open_pool(apps=apps, transport=InProcessLarkTransport(fake), stores=stores) as pool:
        await MessagingClient(pool).get_bot_info()
    assert fake.token_requests("cli_restart0") == 1


async def test_expired_token_is_fetched_again(fake: FakeLark) -> None:
    apps = make_apps(fake, 1, prefix="cli_expire")
    async with open_pool(
        apps=apps, transport=InProcessLarkTransport(fake), clock=FakeClock(fake)
    ) as pool:
        client = MessagingClient(pool)
        await client.get_bot_info()
        fake.advance(7200 + 1)
        await client.get_bot_info()
    assert fake.token_requests("cli_expire0") == 2


async def test_app_access_token_and_tenant_token_are_cached_separately(
    pool: CredentialPool, fake: FakeLark
) -> None:
    tenant = await pool.tenant_access_token("cli_app1")
    app_token = await pool.app_access_token("cli_app1")
    assert tenant.startswith("t-") and app_token.startswith("a-")
    assert fake.token_requests("cli_app1") == 2
    assert await pool.app_access_token("cli_app1") == app_token


async def test_marketplace_app_ticket_app_token_tenant_token(fake: FakeLark) -> None:
    fake.add_app(
        "cli_store",
        "store-secret",
        app_type="marketplace",
        tenant_keys=("tk1", "tk2"),
        name="Store",
    )
    app = AppConfig(app_id="cli_store", app_secret="store-secret", app_type=AppType.MARKETPLACE)
    metrics = InMemoryMetrics()
    async with open_pool(
        apps=[app], transport=InProcessLarkTransport(fake, metrics=metrics), metrics=metrics
    ) as pool:
        client = MessagingClient(pool)
        from lark_service.domain import AuthError

        with pytest.raises(AuthError, match="app_ticket"):
            await pool.tenant_access_token("cli_store", tenant_key="tk1")
        await pool.set_app_ticket("cli_store", fake.push_app_ticket("cli_store"))
        t1 = await pool.tenant_access_token("cli_store", tenant_key="tk1")
        t2 = await pool.tenant_access_token("cli_store", tenant_key="tk2")
        assert t1 != t2
        info = await client._call("GET", "/open-apis/bot/v3/info", api="bot.info", tenant_key="tk2")
        assert info.http_status == 200
        from lark_service.domain import ConfigError

        with pytest.raises(ConfigError, match="tenant_key"):
            await pool.tenant_access_token("cli_store")


async def test_start_writes_only_apps_that_changed(fake: FakeLark) -> None:
    class CountingStore(InMemoryAppStore):
        def __init__(self) -> None:
            super().__init__(state)
            self.saves = 0

        async def save_app(self, app: AppConfig) -> None:
            self.saves += 1
            await super().save_app(app)

    stores = in_memory_stores()
    state = stores.apps.state  # type: ignore[attr-defined]
    store = CountingStore()
    stores = dataclasses.replace(stores, apps=store)
    apps = make_apps(fake, 3, prefix="cli_start")
    async with open_pool(apps=apps, transport=InProcessLarkTransport(fake), stores=stores):
        pass
    assert store.saves == 3
    async with open_pool(apps=apps, transport=InProcessLarkTransport(fake), stores=stores):
        pass
    assert store.saves == 3  # a restart with the same config writes nothing
    changed = [
        apps[0],
        AppConfig(app_id=apps[1].app_id, app_secret="new", domain="feishu"),
        apps[2],
    ]
    async with open_pool(apps=changed, transport=InProcessLarkTransport(fake), stores=stores):
        pass
    assert store.saves == 4
    stored = await store.get_app(apps[1].app_id)
    assert stored is not None and stored.app_secret == "new"
