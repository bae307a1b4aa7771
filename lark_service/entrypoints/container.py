"""The composition root: wires adapters to ports with dependency-injector."""

from __future__ import annotations

from dependency_injector import containers, providers

from lark_service.adapters.lark_http import AiohttpLarkTransport, HttpTokenIssuer, RetryPolicy
from lark_service.adapters.memory import InMemoryCredentialStore, InMemoryMetrics, SystemClock
from lark_service.application.pool import CredentialPool


class Container(containers.DeclarativeContainer):
    """Adapters as singletons; override any provider in tests (``container.clock.override``)."""

    config = providers.Configuration()

    clock = providers.Singleton(SystemClock)
    metrics = providers.Singleton(InMemoryMetrics)
    retry = providers.Singleton(RetryPolicy)
    transport = providers.Singleton(AiohttpLarkTransport, retry=retry, metrics=metrics)
    issuer = providers.Singleton(HttpTokenIssuer, transport=transport, clock=clock)
    store = providers.Singleton(InMemoryCredentialStore)
    pool = providers.Singleton(
        CredentialPool,
        store=store,
        issuer=issuer,
        transport=transport,
        clock=clock,
        metrics=metrics,
        apps=config.apps,
        default_app_id=config.default_app_id,
        refresh_ahead=config.refresh_ahead,
        limiter=config.limiter,
    )
