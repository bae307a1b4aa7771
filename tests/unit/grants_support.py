"""Fixtures for the grant tests: a pool on the fake's clock and a `GrantService` over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import pytest

from lark_service.adapters.memory import InMemoryMetrics
from lark_service.adapters.memory.event_bus import InMemoryEventBus
from lark_service.adapters.memory.grant_sessions import InMemoryGrantSessionStore
from lark_service.application import CredentialPool
from lark_service.application.clients.messaging import MessagingClient
from lark_service.application.usecases.grants import GrantService
from lark_service.testing import fake_pool
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark.auth import OAUTH_TOKEN, approve
from lark_service.testing.fake_lark.models import RecordedRequest
from tests.conftest import FAST_RETRY, loop_limiter, make_apps
from tests.unit.test_pool import FakeClock

APP = "cli_app0"
USER = "ou_alice"
REDIRECT = "https://svc.example/v1/oauth/callback"
SECRET = "test-state-secret-0123456789abcdef"


@dataclass
class Grants:
    fake: FakeLark
    pool: CredentialPool
    service: GrantService
    sessions: InMemoryGrantSessionStore
    bus: InMemoryEventBus
    metrics: InMemoryMetrics

    async def authorize(self, user_id: str = USER, app_id: str = APP) -> None:
        """The whole browser round trip: link, the user approves, the callback completes."""
        link, _ = await self.service.begin(app_id, user_id)
        code, state = redirect_params(approve(self.fake, link.url, user_id))
        await self.service.complete(code, state)


def redirect_params(url: str) -> tuple[str, str]:
    query = dict(parse_qsl(urlsplit(url).query))
    return query.get("code", ""), query["state"]


def oauth_requests(fake: FakeLark, grant_type: str) -> list[RecordedRequest]:
    return [
        r
        for r in fake.requests
        if r.path == OAUTH_TOKEN and r.json().get("grant_type") == grant_type
    ]


@pytest.fixture(name="grants")
async def grants_fixture(fake: FakeLark) -> AsyncIterator[Grants]:
    metrics = InMemoryMetrics()
    async with fake_pool(
        fake,
        apps=make_apps(fake, 2),
        default_app_id=APP,
        clock=FakeClock(fake),
        metrics=metrics,
        retry=FAST_RETRY,
        limiter=loop_limiter(),
    ) as pool:
        sessions, bus = InMemoryGrantSessionStore(), InMemoryEventBus()
        service = GrantService(
            pool,
            sessions=sessions,
            messaging=MessagingClient(pool),
            secret=SECRET,
            redirect_uri=REDIRECT,
            bus=bus,
        )
        service.watch_pool()
        yield Grants(fake, pool, service, sessions, bus, metrics)
