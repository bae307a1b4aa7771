"""`open_pool`: the composition root for services that embed lark-service."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import msgspec

from lark_service.adapters.lark_http import RetryPolicy
from lark_service.application.pool import CredentialPool
from lark_service.application.rate_limit import RateLimiter
from lark_service.domain.apps import AppConfig, Domain
from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.credentials import CredentialStore
from lark_service.domain.ports.metrics import Metrics
from lark_service.domain.ports.transport import LarkTransport
from lark_service.entrypoints.container import Container

DATABASE_URL_ENV = "LARK_SERVICE_DATABASE_URL"


@asynccontextmanager
async def open_pool(
    *,
    apps: Iterable[AppConfig] = (),
    base_url: str | None = None,
    database_url: str | None = None,
    default_app_id: str | None = None,
    store: CredentialStore | None = None,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    retry: RetryPolicy | None = None,
    refresh_ahead: float = 300.0,
    limiter: RateLimiter | None = None,
    transport: LarkTransport | None = None,
    **store_options: Any,
) -> AsyncIterator[CredentialPool]:
    """Open a `CredentialPool` wired to the real Lark HTTP transport.

    ``base_url`` points the given apps at another host (a fake Lark server, a proxy).
    ``database_url`` (SQLAlchemy URL, else ``$LARK_SERVICE_DATABASE_URL``) selects the SQL
    store; with neither, the store is in memory.
    ``limiter`` replaces the client-side rate limiter (Lark's documented limits).
    ``transport`` replaces the aiohttp transport for every call, token requests included
    (e.g. ``lark_service.testing.InProcessLarkTransport(fake)``); ``retry`` then does not
    apply: the given transport has its own.
    """
    app_list = list(apps)
    if base_url is not None:
        app_list = [
            msgspec.structs.replace(a, domain=base_url) if a.domain == Domain.FEISHU.value else a
            for a in app_list
        ]
    container = Container()
    container.config.from_dict(
        {
            "apps": app_list,
            "default_app_id": default_app_id,
            "refresh_ahead": refresh_ahead,
            "limiter": limiter,
        }
    )
    if clock is not None:
        container.clock.override(clock)
    if metrics is not None:
        container.metrics.override(metrics)
    if retry is not None:
        container.retry.override(retry)
    if transport is not None:
        container.transport.override(transport)
    if database_url is None:
        database_url = os.environ.get(DATABASE_URL_ENV) or None
    if store is None and database_url is not None:
        store = await _open_sql_store(database_url, **store_options)
    if store is not None:
        container.store.override(store)
    pool: CredentialPool = container.pool()
    async with pool:
        yield pool


async def _open_sql_store(database_url: str, **options: Any) -> CredentialStore:
    # imported lazily: SQL drivers are heavy and the in-memory default needs none
    from lark_service.entrypoints.stores import open_sql_store

    return await open_sql_store(database_url, **options)
