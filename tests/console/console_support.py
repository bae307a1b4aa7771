"""The console in process: Litestar's test client over the services on a pool whose metrics
feed the last-hour record, on a manual clock; the fake Lark in process."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from lark_service.adapters.memory import InMemoryMetrics
from lark_service.adapters.memory.clock import ManualClock
from lark_service.adapters.memory.recent_activity import RecentActivity, RecentActivityMetrics
from lark_service.application import CredentialPool
from lark_service.entrypoints.http import Services, create_app
from lark_service.entrypoints.http.wiring import open_services
from lark_service.testing import fake_pool
from lark_service.testing.fake_lark import FakeLark
from tests.conftest import FAST_RETRY, loop_limiter, make_apps

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
START = 1_790_000_000.0


async def no_wait(_: float) -> None:
    return None


@dataclass
class Console:
    client: AsyncTestClient[Any]
    services: Services
    admin_key: str
    clock: ManualClock

    async def csrf(self, path: str = "/console/apps") -> str:
        r = await self.client.get(path)
        assert r.status_code == 200, r.text
        match = CSRF.search(r.text)
        assert match is not None
        return match.group(1)

    async def sign_in(self, key: str | None = None) -> Any:
        page = await self.client.get("/console/login")
        token = CSRF.search(page.text)
        assert token is not None
        return await self.client.post(
            "/console/login",
            data={"api_key": key or self.admin_key, "csrf_token": token.group(1)},
            follow_redirects=False,
        )

    async def post(self, path: str, **data: Any) -> Any:
        data.setdefault("csrf_token", await self.csrf())
        return await self.client.post(path, data=data, follow_redirects=False)


@pytest.fixture(name="console_clock")
def console_clock_fixture() -> ManualClock:
    return ManualClock(start=START)


@pytest.fixture(name="console_pool")
async def console_pool_fixture(
    fake: FakeLark, console_clock: ManualClock
) -> AsyncIterator[CredentialPool]:
    """Two apps; the metrics tee records the last hour on ``console_clock``, as the
    composition root installs it."""
    metrics = RecentActivityMetrics(InMemoryMetrics(), RecentActivity(console_clock))
    async with fake_pool(
        fake,
        apps=make_apps(fake, 2),
        default_app_id="cli_app0",
        clock=console_clock,
        metrics=metrics,
        retry=FAST_RETRY,
        limiter=loop_limiter(),
    ) as pool:
        yield pool


@pytest.fixture(name="console")
async def console_fixture(
    console_pool: CredentialPool, console_clock: ManualClock
) -> AsyncIterator[Console]:
    async with open_services(console_pool, sleep=no_wait) as services:
        admin = (await services.keys.create(["admin"], name="operator")).key
        async with AsyncTestClient(app=create_app(services), base_url="http://console.local") as c:
            yield Console(c, services, admin, console_clock)
