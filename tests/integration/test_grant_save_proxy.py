"""Issue 8 item 5 through a TCP proxy: a user's refreshed grant survives PostgreSQL going
away while the refresh happens.

Lark rotates the refresh token on every refresh (the fake too: a used one is refused), so
once the refresh succeeded, the new grant is the only one that works. The proxy
(``tcp_proxy.py``) sits between the SQL store and the real PostgreSQL on 127.0.0.1:5432
and blocks or resets the store's traffic during the refresh: the call must still get the
fresh token, later calls are served from memory, the save lands once the proxy heals, and
a restarted process reads the rotated grant from PostgreSQL and refreshes with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import parse_qsl

import pytest

from lark_service.adapters.postgres import (
    SqlDatabase,
    StoreDeadlines,
    generate_key,
    sql_credential_stores,
)
from lark_service.domain import UserToken
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark
from tests.conftest import FAST_RETRY, make_apps
from tests.integration.pg_proxy import pg_url, proxy, via
from tests.integration.tcp_proxy import Mode, TcpProxy

__all__ = ["pg_url", "proxy"]  # fixtures

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

FAST = StoreDeadlines(connect=1.0, statement=1.0, operation=2.0, lock=3.0)
OAUTH_TOKEN = "/open-apis/authen/v2/oauth/token"  # nosec B105 - a path
USER = "ou_carol"
CALL_BUDGET = 10.0  # the refresh call while the store is unreachable, deadlines included
SAVE_BUDGET = 8.0  # the background save once the proxy heals (its backoff is ~1-2 s here)


class FakeClock:
    """The fake Lark's clock: ``fake.advance`` expires tokens for the pool too."""

    def __init__(self, fake: FakeLark) -> None:
        self._fake = fake

    def now(self) -> float:
        return self._fake.now()


def refresh_tokens_sent(fake: FakeLark) -> list[str]:
    """The refresh tokens the fake was asked to redeem, in order (JSON or form bodies)."""
    sent: list[str] = []
    for req in fake.requests:
        if req.method != "POST" or req.path != OAUTH_TOKEN:
            continue
        if req.headers.get("content-type", "").startswith("application/json"):
            params = {str(k): str(v) for k, v in (req.json() or {}).items()}
        else:
            params = dict(parse_qsl(req.body.decode()))
        if params.get("grant_type") == "refresh_token":
            sent.append(params.get("refresh_token", ""))
    return sent


async def stored_grant(pg_url: str, key: str, app_id: str) -> UserToken | None:
    """The grant as PostgreSQL holds it, read past the proxy."""
    db = await SqlDatabase.open(pg_url, secret_key=key)
    try:
        return await sql_credential_stores(db).user_grants.load_user_token(app_id, USER)
    finally:
        await db.aclose()


@pytest.mark.parametrize("mode", ["block", "reset", "drop"])
async def test_refreshed_grant_survives_the_store_going_away_during_the_refresh(
    mode: Mode,
    proxy: TcpProxy,
    pg_url: str,
    fake: FakeLark,
    base_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="lark_service.pool")
    apps = make_apps(fake, 1, prefix=f"cli_grant_{mode}")
    app_id = apps[0].app_id
    key = generate_key()
    db = await SqlDatabase.open(via(proxy, pg_url), secret_key=key, deadlines=FAST)
    try:
        async with open_pool(
            apps=apps,
            base_url=base_url,
            stores=sql_credential_stores(db),
            clock=FakeClock(fake),
            retry=FAST_RETRY,
        ) as pool:
            app = pool.resolve(app_id)
            fake.add_auth_code(app_id, USER, "code-1")
            granted = await pool.authorize_user(app_id, USER, "code-1")  # saved: store up
            fake.advance(7200)  # the access token expired; the refresh token still works
            proxy.set_mode(mode)

            started = time.monotonic()
            fresh = await asyncio.wait_for(pool.user_access_token(app, USER), CALL_BUDGET)
            assert fresh.startswith("u-") and fresh != granted.access_token
            assert time.monotonic() - started < CALL_BUDGET
            # the old refresh token is spent: Lark (the fake) refuses it from now on
            assert refresh_tokens_sent(fake) == [granted.refresh_token]

            # the store is still unreachable: calls are served from memory, at once
            started = time.monotonic()
            for _ in range(20):
                assert await pool.user_access_token(app, USER) == fresh
            assert time.monotonic() - started < 0.5
            assert refresh_tokens_sent(fake) == [granted.refresh_token]
            # the save did fail: PostgreSQL (read past the proxy) still holds the old grant
            before = await stored_grant(pg_url, key, app_id)
            assert before is not None and before.refresh_token == granted.refresh_token
            assert any("could not save the grant" in r.getMessage() for r in caplog.records)

            proxy.set_mode("pass")  # heal: the background save retry lands
            deadline = time.monotonic() + SAVE_BUDGET
            saved = await stored_grant(pg_url, key, app_id)
            while (saved is None or saved.access_token != fresh) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                saved = await stored_grant(pg_url, key, app_id)
            assert saved is not None and saved.access_token == fresh
            assert saved.refresh_token and saved.refresh_token != granted.refresh_token
    finally:
        proxy.set_mode("pass")
        await db.aclose()

    # a restart: a new store and pool read the rotated grant from PostgreSQL
    fake.advance(7200)
    restarted = await SqlDatabase.open(pg_url, secret_key=key, deadlines=FAST)
    try:
        async with open_pool(
            apps=apps,
            base_url=base_url,
            stores=sql_credential_stores(restarted),
            clock=FakeClock(fake),
            retry=FAST_RETRY,
        ) as pool:
            again = await pool.user_access_token(pool.resolve(app_id), USER)
            assert again.startswith("u-") and again not in (fresh, granted.access_token)
    finally:
        await restarted.aclose()
    # exactly one refresh with the old token, then the rotated one after the restart
    assert refresh_tokens_sent(fake) == [granted.refresh_token, saved.refresh_token]
