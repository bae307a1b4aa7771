"""`fake_pool`: a `CredentialPool` whose every call reaches a `FakeLark` in memory.

The test kit cannot call `open_pool` (``entrypoints`` sits above ``testing`` in the layer
order), so this composes the same pieces: the in-memory credential store, `HttpTokenIssuer`
and the pool (`CredentialPool.from_stores`, as the composition root builds it), over an
`InProcessLarkTransport`. ``open_pool(transport=...)`` is the way to the fake with any other
option of `open_pool` (an SQL store, say).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from lark_service.adapters.lark_http.issuer import HttpTokenIssuer
from lark_service.adapters.lark_http.retry import RetryPolicy
from lark_service.adapters.memory.clock import SystemClock
from lark_service.adapters.memory.metrics import InMemoryMetrics
from lark_service.adapters.memory.store import in_memory_stores
from lark_service.application.pool import DEFAULT_REFRESH_AHEAD, CredentialPool
from lark_service.application.rate_limit import RateLimiter
from lark_service.domain.apps import AppConfig, AppType
from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.credentials import CredentialStores
from lark_service.domain.ports.metrics import Metrics
from lark_service.testing.fake_lark.server import FakeLark
from lark_service.testing.transport import InProcessLarkTransport

__all__ = ["app_configs", "fake_pool"]


def app_configs(fake: FakeLark) -> list[AppConfig]:
    """An `AppConfig` for every app registered at ``fake``."""
    return [
        AppConfig(
            app_id=app.app_id,
            app_secret=app.app_secret,
            name=app.name,
            app_type=AppType(app.app_type),
        )
        for app in fake.apps.values()
    ]


@asynccontextmanager
async def fake_pool(
    fake: FakeLark,
    *,
    apps: Iterable[AppConfig] | None = None,
    default_app_id: str | None = None,
    stores: CredentialStores | None = None,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    retry: RetryPolicy | None = None,
    refresh_ahead: float = DEFAULT_REFRESH_AHEAD,
    limiter: RateLimiter | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109 - the transport's per-attempt timeout
) -> AsyncIterator[CredentialPool]:
    """Open a pool on ``fake``, in memory; the keywords mean what they mean for `open_pool`.

    ``apps`` not yet registered at the fake are registered there (same id, secret, type and
    name); without ``apps`` the pool holds every app the fake knows. ``timeout`` bounds each
    attempt, as the aiohttp transport's total timeout does.
    """
    if apps is None:
        app_list = app_configs(fake)
    else:
        app_list = list(apps)
        for app in app_list:
            if app.app_id not in fake.apps:
                fake.add_app(app.app_id, app.app_secret, app_type=app.app_type.value, name=app.name)
    metrics = metrics if metrics is not None else InMemoryMetrics()
    clock = clock if clock is not None else SystemClock()
    transport = InProcessLarkTransport(fake, timeout=timeout, retry=retry, metrics=metrics)
    pool = CredentialPool.from_stores(
        stores if stores is not None else in_memory_stores(),
        issuer=HttpTokenIssuer(transport=transport, clock=clock),
        transport=transport,
        clock=clock,
        metrics=metrics,
        apps=app_list,
        default_app_id=default_app_id,
        refresh_ahead=refresh_ahead,
        limiter=limiter,
    )
    async with pool:
        yield pool
