"""Several replicas (OS processes) sharing one PostgreSQL fetch each token once between them."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from lark_service.adapters.postgres import generate_key, upgrade_async
from lark_service.application import MessagingClient
from lark_service.domain import AppConfig
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark
from tests.integration.conftest import PG_ADMIN_URL, PgAdmin, SqlStores, _connect_admin
from tests.integration.spawned import run_spawned

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

APPS = 20
PROCESSES = 4
CALLS_PER_PROCESS = 250


@pytest.fixture
async def pg_url() -> AsyncIterator[tuple[str, PgAdmin, str]]:
    admin = await _connect_admin()
    name = f"lark_replicas_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    await upgrade_async(url)
    try:
        yield url, admin, name
    finally:
        await admin.terminate(name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.engine.dispose()


def _replica(url: str, key: str, app_ids: list[str], barrier, results) -> None:  # type: ignore[no-untyped-def]
    async def main() -> int:
        async with open_pool(database_url=url, secret_key=key) as pool:
            client = MessagingClient(pool)
            await asyncio.to_thread(barrier.wait)
            calls = [app_ids[i % len(app_ids)] for i in range(CALLS_PER_PROCESS)]
            infos = await asyncio.gather(*(client.get_bot_info(app_id=a) for a in calls))
            return sum(1 for a, info in zip(calls, infos, strict=True) if info.app_name == a)

    results.put(asyncio.run(main()))


async def _seed(url: str, key: str, fake: FakeLark, base_url: str) -> list[str]:
    store = await SqlStores.open(url, secret_key=key)
    app_ids = []
    for i in range(APPS):
        app_id = f"cli_replica{i}"
        fake.add_app(app_id, f"s{i}", name=app_id)
        await store.apps.save_app(
            AppConfig(app_id=app_id, app_secret=f"s{i}", name=app_id, domain=base_url)
        )
        app_ids.append(app_id)
    await store.aclose()
    return app_ids


def _run_replicas(url: str, key: str, app_ids: list[str]) -> list[int]:
    return run_spawned(_replica, url, key, app_ids, count=PROCESSES)


async def test_four_processes_fetch_each_apps_token_once_and_reuse_it_after_restart(
    pg_url: tuple[str, PgAdmin, str], fake: FakeLark, base_url: str
) -> None:
    url, _, _ = pg_url
    key = generate_key()
    app_ids = await _seed(url, key, fake, base_url)

    served = await asyncio.to_thread(_run_replicas, url, key, app_ids)
    assert served == [CALLS_PER_PROCESS] * PROCESSES
    assert {a: fake.token_requests(a) for a in app_ids} == {a: 1 for a in app_ids}
    assert fake.token_requests() == APPS

    # every replica restarts with a cold cache: the stored tokens are still valid
    served = await asyncio.to_thread(_run_replicas, url, key, app_ids)
    assert served == [CALLS_PER_PROCESS] * PROCESSES
    assert fake.token_requests() == APPS


async def test_postgres_connections_killed_mid_run_no_call_fails(
    pg_url: tuple[str, PgAdmin, str],
    fake: FakeLark,
    base_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, admin, name = pg_url
    key = generate_key()
    app_ids = await _seed(url, key, fake, base_url)
    failures: list[BaseException] = []
    async with open_pool(database_url=url, secret_key=key) as pool:
        client = MessagingClient(pool)
        await asyncio.gather(*(client.get_bot_info(app_id=a) for a in app_ids[:10]))

        async def calls() -> int:
            done = 0
            for n in range(300):
                try:
                    await client.get_bot_info(app_id=app_ids[n % 10])
                    done += 1
                except Exception as exc:
                    failures.append(exc)
                await asyncio.sleep(0)
            return done

        async def killer() -> int:
            killed = 0
            for _ in range(5):
                killed += await admin.terminate(name)
                await asyncio.sleep(0.02)
            return killed

        done, _ = await asyncio.gather(calls(), killer())
        assert failures == [] and done == 300
        # new tokens after the kills: the store reconnects by itself (pool_pre_ping, retries)
        await admin.terminate(name)
        caplog.set_level(logging.WARNING)
        infos = await asyncio.gather(*(client.get_bot_info(app_id=a) for a in app_ids[10:]))
        assert [i.app_name for i in infos] == app_ids[10:]
        stored = await pool.app_store.list_apps()
        assert len(stored) == APPS


async def test_store_down_token_fetch_falls_back_to_direct_with_warning_then_recovers(
    pg_url: tuple[str, PgAdmin, str],
    fake: FakeLark,
    base_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, admin, name = pg_url
    key = generate_key()
    app_ids = await _seed(url, key, fake, base_url)
    async with open_pool(database_url=url, secret_key=key) as pool:
        client = MessagingClient(pool)
        await client.get_bot_info(app_id=app_ids[0])
        # PostgreSQL refuses every connection to this database
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.terminate(name)
        try:
            caplog.set_level(logging.WARNING, logger="lark_service.pool")
            # cached token: served without the store
            assert (await client.get_bot_info(app_id=app_ids[0])).app_name == app_ids[0]
            # no token yet: fetched directly, with a warning
            assert (await client.get_bot_info(app_id=app_ids[1])).app_name == app_ids[1]
            assert "directly" in caplog.text
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        # the store is back by itself
        caplog.clear()
        assert (await client.get_bot_info(app_id=app_ids[2])).app_name == app_ids[2]
        assert "directly" not in caplog.text
        assert len(await pool.app_store.list_apps()) == APPS
