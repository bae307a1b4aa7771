"""`open_pool`: a `CredentialPool` for services that embed lark-service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import msgspec
from dependency_injector import providers

from lark_service.adapters.lark_http import RetryPolicy
from lark_service.application.pool import CredentialPool
from lark_service.application.rate_limit import RateLimiter
from lark_service.domain.apps import AppConfig
from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.credentials import CredentialStores
from lark_service.domain.ports.metrics import Metrics
from lark_service.domain.ports.transport import LarkTransport
from lark_service.entrypoints.bootstrap import application
from lark_service.entrypoints.settings import Settings, check_database_url, load_settings


@asynccontextmanager
async def open_pool(
    *,
    apps: Iterable[AppConfig] = (),
    base_url: str | None = None,
    database_url: str | None = None,
    secret_key: str | None = None,
    table_prefix: str | None = None,
    default_app_id: str | None = None,
    stores: CredentialStores | None = None,
    transport: LarkTransport | None = None,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    retry: RetryPolicy | None = None,
    refresh_ahead: float | None = None,
    limiter: RateLimiter | None = None,
    rate_limit_url: str | None = None,
    settings: Settings | None = None,
) -> AsyncIterator[CredentialPool]:
    """Open a `CredentialPool` wired to the real Lark HTTP transport; closed on exit.

    Unset arguments come from ``settings`` (default: `load_settings()`, i.e. the
    ``LARK_SERVICE_*`` environment and ``LARK_SERVICE_CONFIG``).

    ``base_url`` sends every given app's calls to another host (a fake Lark server, a proxy).
    ``database_url`` (SQLAlchemy URL) selects the SQL stores, migrated beforehand with
    ``lark-service db upgrade``; without one they are in memory. ``stores`` replaces them
    outright. ``transport`` replaces the HTTP transport (an in-process fake, say); the caller
    keeps ownership of it. ``limiter`` replaces the client-side rate limiter;
    ``rate_limit_url`` (``redis://HOST:6379/0``) shares its budgets with every process using
    the same Redis (unset: ``LARK_SERVICE_RATE_LIMIT_URL``, else per process).
    ``default_app_id`` must name a given or stored app: else ``UnknownAppError`` here.
    """
    if database_url is not None:
        check_database_url(database_url, "database_url")
    base = settings if settings is not None else load_settings()
    config = base.replace(
        database_url=database_url,
        secret_key=secret_key,
        table_prefix=table_prefix,
        base_url=base_url,
        refresh_ahead=refresh_ahead,
        rate_limit_url=rate_limit_url,
    )
    app_list = list(apps)
    if config.base_url is not None:
        target = config.base_url
        app_list = [msgspec.structs.replace(a, domain=target) for a in app_list]
    async with application(config) as container:
        services, gateways, core = container.services, container.gateways, container.core
        services.apps.override(providers.Object(app_list))
        services.default_app_id.override(providers.Object(default_app_id))
        overrides = (
            (core.limiter, limiter),
            (gateways.stores, stores),
            (gateways.transport, transport),
            (gateways.retry, retry),
            (core.clock, clock),
            (core.metrics, metrics),
        )
        for provider, value in overrides:
            if value is not None:
                provider.override(providers.Object(value))
        pool: CredentialPool = await services.pool()
        yield pool
