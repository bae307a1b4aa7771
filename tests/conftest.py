"""Shared fixtures: a fresh fake Lark per test, reached in process on virtual time.

Every async test runs on `VirtualTimeLoop`: sleeps, rate-limiter delays and retry backoffs
end at once (in order), so nothing waits for real. `pool` reaches `fake` through the
in-process transport (no socket); `base_url` serves `fake` over a real socket for the few
tests that need one (the loop then waits for real).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from lark_service.adapters.lark_http import RetryPolicy
from lark_service.adapters.memory import InMemoryMetrics
from lark_service.application import CredentialPool
from lark_service.application.rate_limit import RateLimiter
from lark_service.domain import AppConfig
from lark_service.testing import FakeLark, fake_pool, serve_in_thread
from lark_service.testing.virtual_time import VirtualTimeLoop, loop_clock
from tests.otel_support import otel, registry  # noqa: F401  (the metrics tests' fixtures)


@pytest.fixture(scope="session")
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return "asyncio", {"loop_factory": VirtualTimeLoop}


@pytest.fixture
def fake() -> FakeLark:
    return FakeLark()


@pytest.fixture
def base_url(fake: FakeLark) -> Iterator[str]:
    """``fake`` served over a real socket (in a thread) for this test."""
    with serve_in_thread(fake) as running:
        yield running.base_url


def make_apps(fake: FakeLark, n: int = 2, prefix: str = "cli_app") -> list[AppConfig]:
    """Register ``n`` self-built apps at the fake and return their configs."""
    apps = []
    for i in range(n):
        app_id = f"{prefix}{i}"
        fake.add_app(app_id, f"secret-{app_id}", name=f"App {i}")
        apps.append(AppConfig(app_id=app_id, app_secret=f"secret-{app_id}", name=f"App {i}"))
    return apps


FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.2)


def loop_limiter(**options: Any) -> RateLimiter:
    """Lark's documented limits on the running loop's (virtual) clock."""
    return RateLimiter(clock=loop_clock(), **options)


@pytest.fixture
async def pool(fake: FakeLark) -> AsyncIterator[CredentialPool]:
    async with fake_pool(
        fake,
        apps=make_apps(fake, 2),
        default_app_id="cli_app0",
        metrics=InMemoryMetrics(),
        retry=FAST_RETRY,
        limiter=loop_limiter(),
    ) as pool:
        yield pool
