"""Two OS processes sharing PostgreSQL refresh one user's expired grant once between them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from lark_service.adapters.postgres import generate_key
from lark_service.domain import AppConfig, UserToken
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark
from tests.integration.conftest import PgAdmin, SqlStores
from tests.integration.spawned import run_spawned
from tests.integration.test_replicas import pg_url
from tests.unit.grants_support import USER, oauth_requests

__all__ = ["pg_url"]

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

APP = "cli_grant_replica"
PROCESSES = 2
CALLS = 5


def _replica(url: str, key: str, barrier: Any, results: Any) -> None:
    async def main() -> list[str]:
        async with open_pool(database_url=url, secret_key=key) as pool:
            app = pool.resolve(APP)
            await asyncio.to_thread(barrier.wait, 60)
            return list(
                await asyncio.gather(*(pool.user_access_token(app, USER) for _ in range(CALLS)))
            )

    results.put(asyncio.run(main()))


def _run(url: str, key: str) -> list[list[str]]:
    return run_spawned(_replica, url, key, count=PROCESSES)


async def test_two_processes_refresh_an_expired_user_token_once(
    pg_url: tuple[str, PgAdmin, str], fake: FakeLark, base_url: str
) -> None:
    url, _, _ = pg_url
    key = generate_key()
    fake.add_app(APP, "s", name=APP)
    issued = fake.issue_user_token(APP, USER)
    store = await SqlStores.open(url, secret_key=key)
    await store.apps.save_app(AppConfig(app_id=APP, app_secret="s", name=APP, domain=base_url))
    await store.user_grants.save_user_token(
        UserToken(
            app_id=APP,
            user_id=USER,
            access_token=str(issued["access_token"]),
            refresh_token=str(issued["refresh_token"]),
            expires_at=time.time() - 1,  # expired for every replica's (system) clock
            refresh_expires_at=time.time() + 86400,
        )
    )
    await store.aclose()

    tokens = await asyncio.to_thread(_run, url, key)
    assert len({t for batch in tokens for t in batch}) == 1
    assert len(oauth_requests(fake, "refresh_token")) == 1
