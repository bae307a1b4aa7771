"""Shared fixtures: one fake Lark server on loopback for the whole session, reset per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from lark_service.adapters.lark_http import RetryPolicy
from lark_service.adapters.memory import InMemoryMetrics
from lark_service.application import CredentialPool
from lark_service.domain import AppConfig
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark, RunningServer, serve_in_thread


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def fake_server() -> Iterator[tuple[FakeLark, RunningServer]]:
    fake = FakeLark()
    with serve_in_thread(fake) as running:
        yield fake, running


@pytest.fixture
def fake(fake_server: tuple[FakeLark, RunningServer]) -> FakeLark:
    fake_server[0].reset()
    return fake_server[0]


@pytest.fixture
def base_url(fake_server: tuple[FakeLark, RunningServer]) -> str:
    return fake_server[1].base_url


def make_apps(fake: FakeLark, n: int = 2, prefix: str = "cli_app") -> list[AppConfig]:
    """Register ``n`` self-built apps at the fake and return their configs."""
    apps = []
    for i in range(n):
        app_id = f"{prefix}{i}"
        fake.add_app(app_id, f"secret-{app_id}", name=f"App {i}")
        apps.append(AppConfig(app_id=app_id, app_secret=f"secret-{app_id}", name=f"App {i}"))
    return apps


FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.2)


@pytest.fixture
async def pool(fake: FakeLark, base_url: str) -> AsyncIterator[CredentialPool]:
    apps = make_apps(fake, 2)
    async with open_pool(
        apps=apps,
        base_url=base_url,
        default_app_id="cli_app0",
        metrics=InMemoryMetrics(),
        retry=FAST_RETRY,
    ) as pool:
        yield pool
