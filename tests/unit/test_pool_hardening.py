"""Issue 8: the pool under a token-endpoint outage, a failing grant store, and bursts.

Time is the fake server's clock (``fake.advance``), read by the pool: no real sleeps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator

import pytest

from lark_service.adapters.lark_http import NO_RETRY
from lark_service.adapters.memory import in_memory_stores
from lark_service.application import CredentialPool
from lark_service.application.refresh_backoff import RefreshBackoff, backoff_delay
from lark_service.application.single_flight import SingleFlight
from lark_service.domain import ServerError, StoreError, UserToken
from lark_service.domain.errors import RateLimitedError
from lark_service.domain.grants import GrantExpiry
from lark_service.domain.ports.user_grants import UserGrantStore
from lark_service.entrypoints.embed import open_pool
from lark_service.testing import InProcessLarkTransport
from lark_service.testing.fake_lark import FakeLark
from tests.conftest import make_apps
from tests.unit.test_pool import FakeClock

pytestmark = pytest.mark.anyio

AUTH = "/open-apis/auth/"


@pytest.fixture
async def outage_pool(fake: FakeLark) -> AsyncIterator[CredentialPool]:
    apps = make_apps(fake, 1, prefix="cli_outage")
    async with open_pool(
        apps=apps, transport=InProcessLarkTransport(fake, retry=NO_RETRY), clock=FakeClock(fake)
    ) as pool:
        yield pool


def pool_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name.startswith("lark_service") and r.levelno >= logging.WARNING
    ]


# -- item 8: token-endpoint outage ---------------------------------------------------------


def test_backoff_delay_grows_with_jitter_and_is_capped() -> None:
    assert backoff_delay(1, 0.0) == 0.5 and backoff_delay(1, 0.999) < 1.0
    assert backoff_delay(2, 0.0) == 1.0 and backoff_delay(3, 0.0) == 2.0
    assert backoff_delay(50, 1.0) == 60.0
    limited = RefreshBackoff()
    err = RateLimitedError("slow down", retry_after=9.0)
    assert limited.failed(err, now=100.0, jitter=0.0) == 9.0
    assert limited.waiting(108.9) and not limited.waiting(109.0)


async def test_outage_in_last_30_s_serves_cached_token_backs_off_warns_once_per_failure(
    outage_pool: CredentialPool, fake: FakeLark, caplog: pytest.LogCaptureFixture
) -> None:
    pool = outage_pool
    app = pool.resolve("cli_outage0")
    token = await pool.get_token(app)
    assert fake.token_requests("cli_outage0") == 1
    fake.advance(7200 - 20)  # 20 s of life left: inside min_remaining (30 s)
    fake.inject_fault("5xx", path_prefix=AUTH, count=10_000, status=503)
    caplog.set_level(logging.WARNING)
    served: list[str] = []
    for _ in range(100):  # 10 s at 10 bursts of 10 calls a second
        served += await asyncio.gather(*(pool.get_token(app) for _ in range(10)))
        fake.advance(0.1)
    assert served == [token] * 1000  # no ServerError while the token is still valid
    # without backoff: one request per burst (100); with it: 0.5 + 1 + 2 + 4 s apart
    failed_fetches = fake.token_requests("cli_outage0") - 1
    assert 3 <= failed_fetches <= 6
    warnings = pool_warnings(caplog)
    assert len(warnings) == failed_fetches
    assert all("next try in" in r.getMessage() for r in warnings)

    fake.advance(15)  # now really expired: a typed error, still without a request storm
    before = fake.token_requests("cli_outage0")
    outcomes = await asyncio.gather(
        *(pool.get_token(app) for _ in range(50)), return_exceptions=True
    )
    assert all(isinstance(o, ServerError) for o in outcomes)
    assert fake.token_requests("cli_outage0") - before <= 1

    fake.clear_faults()
    fake.advance(61)  # past the longest backoff
    fresh = await pool.get_token(app)
    assert fresh != token
    assert await pool.get_token(app) == fresh  # success cleared the backoff


async def test_failed_background_refresh_is_one_warning_and_waits_its_backoff(
    outage_pool: CredentialPool, fake: FakeLark, caplog: pytest.LogCaptureFixture
) -> None:
    pool = outage_pool
    app = pool.resolve("cli_outage0")
    token = await pool.get_token(app)
    fake.advance(7200 - 200)  # inside refresh_ahead: refreshed in the background
    fake.inject_fault("5xx", path_prefix=AUTH, count=10_000, status=500)
    caplog.set_level(logging.WARNING)
    for _ in range(40):
        assert await pool.get_token(app) == token
        await asyncio.sleep(0)  # let the background refresh run
        for task in list(pool._background):
            await task
        fake.advance(0.05)
    failed = fake.token_requests("cli_outage0") - 1
    assert 1 <= failed <= 3  # 2 s of calls: first try, +0.5..1 s, +1..2 s
    assert len(pool_warnings(caplog)) == failed


# -- item 5: the refreshed grant survives a failing grant store ----------------------------


class FlakyGrantStore:
    """A grant store whose writes and reads fail while ``down`` is set."""

    def __init__(self, inner: UserGrantStore) -> None:
        self.inner = inner
        self.down = False
        self.save_attempts = 0

    async def load_user_token(self, app_id: str, user_id: str) -> UserToken | None:
        if self.down:
            raise StoreError("credential store: reading a user token failed (test)")
        return await self.inner.load_user_token(app_id, user_id)

    async def save_user_token(self, token: UserToken) -> None:
        self.save_attempts += 1
        if self.down:
            raise StoreError("credential store: saving a user token failed (test)")
        await self.inner.save_user_token(token)

    async def delete_user_token(self, app_id: str, user_id: str) -> None:
        await self.inner.delete_user_token(app_id, user_id)

    async def expiring_user_grants(self, before: float) -> list[GrantExpiry]:
        return await self.inner.expiring_user_grants(before)


async def test_refreshed_user_token_is_kept_and_saved_once_the_store_is_back(
    fake: FakeLark,
) -> None:
    apps = make_apps(fake, 1, prefix="cli_grant")
    memory = in_memory_stores()
    flaky = FlakyGrantStore(memory.user_grants)
    stores = dataclasses.replace(memory, user_grants=flaky)
    async with open_pool(
        apps=apps,
        transport=InProcessLarkTransport(fake, retry=NO_RETRY),
        clock=FakeClock(fake),
        stores=stores,
    ) as pool:
        fake.add_auth_code("cli_grant0", "ou_carol", "code-9")
        granted = await pool.authorize_user("cli_grant0", "ou_carol", "code-9")
        app = pool.resolve("cli_grant0")
        fake.advance(7200)
        flaky.down = True
        fresh = await pool.user_access_token(app, "ou_carol")  # no StoreError
        assert fresh != granted.access_token
        # the store is still down: later calls are served from memory
        assert await pool.user_access_token(app, "ou_carol") == fresh
        fake.advance(7200)  # expired again: refreshed with the in-memory refresh token
        fresher = await pool.user_access_token(app, "ou_carol")
        assert fresher not in (fresh, granted.access_token)
        flaky.down = False
        for _ in range(200):  # the save is retried in the background (bounded, backoff)
            stored = await stores.user_grants.load_user_token("cli_grant0", "ou_carol")
            if stored is not None and stored.access_token == fresher:
                break
            await asyncio.sleep(0.01)
        assert stored is not None and stored.access_token == fresher
    # a restarted process finds the newest grant and can still refresh it
    async with open_pool(
        apps=apps,
        transport=InProcessLarkTransport(fake, retry=NO_RETRY),
        clock=FakeClock(fake),
        stores=stores,
    ) as pool:
        fake.advance(7200)
        app = pool.resolve("cli_grant0")
        assert await pool.user_access_token(app, "ou_carol") not in (fresher, fresh)


# -- item 12: waiters on one loop share one awaitable --------------------------------------


async def test_single_flight_cancelled_waiter_leaves_the_others_waiting() -> None:
    flights: SingleFlight[str] = SingleFlight()
    release = asyncio.Event()
    fetches = 0

    async def fetch() -> str:
        nonlocal fetches
        fetches += 1
        await release.wait()
        return "token"

    owner = asyncio.create_task(flights.run("k", fetch))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(flights.run("k", fetch)) for _ in range(1000)]
    await asyncio.sleep(0)
    waiters[0].cancel()
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(owner, *waiters[1:])
    assert results == ["token"] * 1000 and fetches == 1
    assert waiters[0].cancelled()
    assert not flights.busy("k")


async def test_single_flight_owner_cancelled_a_waiter_takes_over() -> None:
    flights: SingleFlight[str] = SingleFlight()
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.Event().wait()  # the owner hangs until cancelled
        return "second"

    owner = asyncio.create_task(flights.run("k", fetch))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(flights.run("k", fetch))
    await asyncio.sleep(0)
    owner.cancel()
    assert await asyncio.wait_for(waiter, 5) == "second"
    assert calls == 2
