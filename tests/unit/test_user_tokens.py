"""user_access_token storage, refresh and refresh-token rotation through the pool."""

from __future__ import annotations

import asyncio

import pytest

from lark_service.application import CredentialPool
from lark_service.domain import UserNotAuthorizedError, UserToken
from lark_service.entrypoints.embed import open_pool
from lark_service.testing import InProcessLarkTransport
from lark_service.testing.fake_lark import FakeLark
from tests.conftest import make_apps
from tests.unit.test_pool import FakeClock

pytestmark = pytest.mark.anyio


async def test_unauthorized_user_is_a_clear_error(pool: CredentialPool) -> None:
    with pytest.raises(UserNotAuthorizedError, match="has not authorized"):
        await pool.user_access_token(pool.resolve("cli_app0"), "ou_nobody")


async def test_code_exchange_then_refresh_rotates_once_for_many_callers(fake: FakeLark) -> None:
    apps = make_apps(fake, 1, prefix="cli_user")
    async with open_pool(
        apps=apps, transport=InProcessLarkTransport(fake), clock=FakeClock(fake)
    ) as pool:
        fake.add_auth_code("cli_user0", "ou_alice", "code-1")
        granted = await pool.authorize_user("cli_user0", "ou_alice", "code-1")
        app = pool.resolve("cli_user0")
        assert await pool.user_access_token(app, "ou_alice") == granted.access_token
        fake.advance(7200)
        tokens = await asyncio.gather(
            *(pool.user_access_token(app, "ou_alice") for _ in range(100))
        )
        assert len(set(tokens)) == 1 and tokens[0] != granted.access_token
        stored = await pool.grant_store.load_user_token("cli_user0", "ou_alice")
        assert stored is not None and stored.refresh_token != granted.refresh_token
        # the spent refresh token no longer works at Lark: rotation really happened
        fake.advance(7200)
        assert await pool.user_access_token(app, "ou_alice") not in tokens


async def test_reused_refresh_token_means_reauthorize(fake: FakeLark) -> None:
    apps = make_apps(fake, 1, prefix="cli_reuse")
    async with open_pool(
        apps=apps, transport=InProcessLarkTransport(fake), clock=FakeClock(fake)
    ) as pool:
        issued = fake.issue_user_token("cli_reuse0", "ou_bob")
        grant = UserToken(
            app_id="cli_reuse0",
            user_id="ou_bob",
            access_token=issued["access_token"],
            refresh_token=issued["refresh_token"],
            expires_at=fake.now() - 1,
        )
        await pool.save_user_token(grant)
        app = pool.resolve("cli_reuse0")
        await pool.user_access_token(app, "ou_bob")
        # someone restores the old grant (spent refresh token)
        await pool.save_user_token(grant)
        with pytest.raises(UserNotAuthorizedError):
            await pool.user_access_token(app, "ou_bob")
        await pool.revoke_user("cli_reuse0", "ou_bob")
        with pytest.raises(UserNotAuthorizedError):
            await pool.user_access_token(app, "ou_bob")


async def test_expired_refresh_token_needs_reauthorization(pool: CredentialPool) -> None:
    await pool.save_user_token(
        UserToken(
            app_id="cli_app0",
            user_id="ou_c",
            access_token="u-x",
            refresh_token="r",
            expires_at=0,
            refresh_expires_at=1,
        )
    )
    with pytest.raises(UserNotAuthorizedError, match="authorize the app again"):
        await pool.user_access_token(pool.resolve("cli_app0"), "ou_c")
