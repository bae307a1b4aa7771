"""The composition root: which adapter serves which port, and who opens and closes what.

Three containers by concern, joined by `Application`:

* `Core`: the `Settings`, the clock, logging and metrics (`OtelMetrics` exported for
  Prometheus when ``metrics_enabled``, else in-memory counters; either way behind
  `RecentActivityMetrics`, which keeps the console's last-hour counts), the tracer (`OtelTracer`
  exporting over OTLP when ``otlp_endpoint`` is set, else `NullTracer`), and the rate limiter
  (shared through Redis with ``rate_limit_url``, else per process); the transport reports
  Lark's rate-limit replies to it through `RateLimitFeedback`.
* `Gateways`: the Lark transport and token issuer, the SQL database and the credential
  stores on it (in memory without a database URL), later the broker. Async resources: they
  are opened on first use and closed by ``shutdown_resources`` in reverse order.
* `Services`: the `CredentialPool` (started and stopped as a resource), the clients over
  it, later the use cases.

Every entry point starts here: `open_pool` (embedding), the command line, and the HTTP API
and worker. Tests and embedders swap a part with ``override`` (``open_pool(transport=...)``
overrides ``gateways.transport``).

    async with application(load_settings()) as app:
        pool = await app.services.pool()
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from dependency_injector import containers, providers

from lark_service.adapters.lark_http import AiohttpLarkTransport, HttpTokenIssuer, RetryPolicy
from lark_service.adapters.memory import InMemoryMetrics, SystemClock, in_memory_stores
from lark_service.adapters.memory.api_keys import InMemoryApiKeyStore
from lark_service.adapters.memory.jobs import InMemoryJobStore
from lark_service.adapters.memory.recent_activity import RecentActivity, RecentActivityMetrics
from lark_service.application.clients.contact import ContactClient
from lark_service.application.clients.docs import DocClient
from lark_service.application.clients.messaging import MessagingClient
from lark_service.application.clients.tables import WorkspaceTableClient
from lark_service.application.pool import CredentialPool
from lark_service.application.rate_limit import RateLimiter
from lark_service.application.rate_limit_feedback import RateLimitFeedback
from lark_service.domain.apps import AppConfig
from lark_service.domain.ports.api_keys import ApiKeyStore
from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.credentials import CredentialStores
from lark_service.domain.ports.events import EventBus
from lark_service.domain.ports.grant_sessions import GrantSessionStore
from lark_service.domain.ports.leases import LeaseStore
from lark_service.domain.ports.metrics import Metrics
from lark_service.domain.ports.send_queue import JobStore, SendQueue
from lark_service.domain.ports.token_issuer import TokenIssuer
from lark_service.domain.ports.tracing import NullTracer, Tracer
from lark_service.domain.ports.transport import LarkTransport
from lark_service.entrypoints.settings import Settings

if TYPE_CHECKING:
    from lark_service.adapters.postgres import SqlDatabase

__all__ = ["Application", "Core", "Gateways", "Services", "application"]


# -- core ------------------------------------------------------------------------------------


def configure_logging(level: str) -> Iterator[None]:
    """Process-wide logging, for the command line and the service (never for embedders)."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    yield


def open_metrics(settings: Settings) -> Iterator[Metrics]:
    """`OtelMetrics` on a Prometheus reader when enabled, else in-memory counters."""
    if not settings.metrics_enabled:
        yield InMemoryMetrics()
        return
    from lark_service.adapters.otel import OtelMetrics

    metrics = OtelMetrics.prometheus(service_name=settings.service_name)
    try:
        yield metrics
    finally:
        metrics.shutdown()  # unregisters the families from the Prometheus registry


def serve_metrics(settings: Settings, metrics: Metrics) -> Iterator[int | None]:
    """The Prometheus scrape endpoint on ``metrics_port`` (long-running entry points only)."""
    if not settings.metrics_enabled:
        yield None
        return
    from lark_service.adapters.otel import serve_metrics as start

    server = start(settings.metrics_port, addr=settings.metrics_host)
    try:
        yield server.port
    finally:
        server.close()


def open_tracer(settings: Settings) -> Iterator[Tracer]:
    """`OtelTracer` exporting to ``otlp_endpoint`` over OTLP/HTTP when set, else no tracing."""
    if settings.otlp_endpoint is None:
        yield NullTracer()
        return
    from lark_service.adapters.otel.tracing import OtelTracer

    tracer = OtelTracer.otlp(settings.otlp_endpoint, service_name=settings.service_name)
    try:
        yield tracer
    finally:
        tracer.shutdown()  # exports the spans still batched


async def open_limiter(settings: Settings) -> AsyncIterator[RateLimiter]:
    """Per-process limits, or limits shared through the Redis at ``rate_limit_url``."""
    if settings.rate_limit_url is None:
        yield RateLimiter()
        return
    from lark_service.adapters.shared_limits import open_redis_budget

    budget = open_redis_budget(settings.rate_limit_url)
    limiter = RateLimiter(budget=budget)
    try:
        yield limiter
    finally:
        await limiter.aclose()
        await budget.aclose()


class Core(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    clock: providers.Provider[Clock] = providers.Singleton(SystemClock)
    logging = providers.Resource(configure_logging, level=settings.provided.log_level)
    exported_metrics: providers.Provider[Metrics] = providers.Resource(
        open_metrics, settings=settings
    )
    # the console's "last hour" counts, fed by the same calls as the exported metrics
    recent_activity = providers.Singleton(RecentActivity, clock=clock)
    metrics: providers.Provider[Metrics] = providers.Singleton(
        RecentActivityMetrics, inner=exported_metrics, activity=recent_activity
    )
    tracer: providers.Provider[Tracer] = providers.Resource(open_tracer, settings=settings)
    limiter: providers.Provider[RateLimiter] = providers.Resource(open_limiter, settings=settings)
    transport_metrics: providers.Provider[Metrics] = providers.Singleton(
        RateLimitFeedback, inner=metrics, limiter=limiter
    )
    metrics_endpoint = providers.Resource(
        serve_metrics, settings=settings, metrics=exported_metrics
    )


# -- gateways --------------------------------------------------------------------------------


async def open_transport(retry: RetryPolicy, metrics: Metrics) -> AsyncIterator[LarkTransport]:
    transport = AiohttpLarkTransport(retry=retry, metrics=metrics)
    try:
        yield transport
    finally:
        await transport.aclose()


async def open_database(
    settings: Settings, embedded_default: bool
) -> AsyncIterator[SqlDatabase | None]:
    """The SQL database of ``settings.database_url``; ``None`` means "keep stores in memory".

    Without a URL, the command line (``embedded_default``) uses the embedded SQLite file in
    the data dir, migrated on the fly; a database named explicitly must have been migrated.
    """
    url = settings.database_url
    if url is None and not embedded_default:
        yield None
        return
    # imported here: SQL drivers are heavy and the in-memory default needs none
    from lark_service.adapters.postgres import SqlDatabase, open_embedded_database

    if url is None:
        db = await open_embedded_database(
            settings.resolved_data_dir(),
            secret_key=settings.secret_key,
            table_prefix=settings.table_prefix,
        )
    else:
        db = await SqlDatabase.open(
            url, secret_key=settings.secret_key, table_prefix=settings.table_prefix
        )
    try:
        yield db
    finally:
        await db.aclose()


def credential_stores(database: SqlDatabase | None) -> CredentialStores:
    if database is None:
        return in_memory_stores()
    from lark_service.adapters.postgres import sql_credential_stores

    return sql_credential_stores(database)


def job_store(database: SqlDatabase | None) -> JobStore:
    if database is None:
        return InMemoryJobStore()
    # concurrent saves share a transaction: one per job status caps a worker (bench/service.py)
    from lark_service.adapters.postgres.job_batches import GroupCommitJobStore

    return GroupCommitJobStore(database)


def lease_store(database: SqlDatabase | None) -> LeaseStore:
    """Leases (one long connection per app across replicas); in memory: this process only."""
    if database is None:
        from lark_service.adapters.memory.leases import InMemoryLeaseStore

        return InMemoryLeaseStore()
    from lark_service.adapters.postgres.leases import SqlLeaseStore

    return SqlLeaseStore(database)


def api_key_store(database: SqlDatabase | None) -> ApiKeyStore:
    if database is None:
        return InMemoryApiKeyStore()
    from lark_service.adapters.postgres.api_keys import SqlApiKeyStore

    return SqlApiKeyStore(database)


def grant_session_store(database: SqlDatabase | None) -> GrantSessionStore:
    if database is None:
        from lark_service.adapters.memory.grant_sessions import InMemoryGrantSessionStore

        return InMemoryGrantSessionStore()
    from lark_service.adapters.postgres.grant_sessions import SqlGrantSessionStore

    return SqlGrantSessionStore(database)


async def open_send_queue(settings: Settings) -> AsyncIterator[SendQueue | None]:
    """RabbitMQ's ``lark.send`` when ``amqp_url`` is set; ``None``: the in-process queue."""
    if settings.amqp_url is None:
        yield None
        return
    # imported here: the embedded default needs no broker client
    from lark_service.adapters.amqp import AmqpSendQueue, SendQueueOptions
    from lark_service.adapters.amqp import RetryPolicy as QueueRetry

    options = SendQueueOptions(
        prefix=settings.amqp_prefix,
        retry=QueueRetry(
            max_attempts=settings.send_max_attempts, delays=settings.send_retry_delays
        ),
    )
    queue = await AmqpSendQueue.connect(settings.amqp_url, options)
    try:
        yield queue
    finally:
        await queue.aclose()


async def open_event_bus(settings: Settings) -> AsyncIterator[EventBus]:
    """RabbitMQ's ``lark.events`` when ``amqp_url`` is set, else the in-process bus."""
    if settings.amqp_url is None:
        from lark_service.adapters.memory.event_bus import InMemoryEventBus

        bus: EventBus = InMemoryEventBus()
    else:
        from lark_service.adapters.amqp import AmqpEventBus

        bus = await AmqpEventBus.connect(settings.amqp_url)
    try:
        yield bus
    finally:
        await bus.aclose()


class Gateways(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    embedded_default = providers.Object(False)
    retry = providers.Singleton(RetryPolicy)
    transport: providers.Provider[LarkTransport] = providers.Resource(
        open_transport, retry=retry, metrics=core.transport_metrics
    )
    issuer: providers.Provider[TokenIssuer] = providers.Singleton(
        HttpTokenIssuer, transport=transport, clock=core.clock
    )
    database = providers.Resource(
        open_database, settings=core.settings, embedded_default=embedded_default
    )
    stores: providers.Provider[CredentialStores] = providers.Singleton(
        credential_stores, database=database
    )
    jobs: providers.Provider[JobStore] = providers.Singleton(job_store, database=database)
    api_keys: providers.Provider[ApiKeyStore] = providers.Singleton(
        api_key_store, database=database
    )
    leases: providers.Provider[LeaseStore] = providers.Singleton(lease_store, database=database)
    grant_sessions: providers.Provider[GrantSessionStore] = providers.Singleton(
        grant_session_store, database=database
    )
    send_queue: providers.Provider[SendQueue | None] = providers.Resource(
        open_send_queue, settings=core.settings
    )
    event_bus: providers.Provider[EventBus] = providers.Resource(
        open_event_bus, settings=core.settings
    )


# -- services --------------------------------------------------------------------------------


async def run_credential_pool(pool: CredentialPool) -> AsyncIterator[CredentialPool]:
    """``pool`` started (stored apps loaded), and its background refreshes stopped at exit."""
    try:
        await pool.start()
        yield pool
    finally:
        await pool.aclose()


class Services(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    gateways = providers.DependenciesContainer()
    apps = providers.Object[Iterable[AppConfig]](())
    default_app_id = providers.Object[str | None](None)
    limiter = core.limiter
    pool: providers.Provider[CredentialPool] = providers.Resource(
        run_credential_pool,
        providers.Factory(
            CredentialPool.from_stores,
            gateways.stores,
            issuer=gateways.issuer,
            transport=gateways.transport,
            clock=core.clock,
            metrics=core.metrics,
            apps=apps,
            default_app_id=default_app_id,
            refresh_ahead=core.settings.provided.refresh_ahead,
            limiter=limiter,
            tracer=core.tracer,
        ),
    )
    # Clients are cheap views over the pool: a new one per call of the provider.
    messaging = providers.Factory(MessagingClient, pool)
    contact = providers.Factory(ContactClient, pool)
    docs = providers.Factory(DocClient, pool)
    tables = providers.Factory(WorkspaceTableClient, pool)


class Application(containers.DeclarativeContainer):
    """The root: ``Application(settings=...)``; see the module docstring."""

    settings = providers.Dependency(instance_of=Settings)
    core = providers.Container(Core, settings=settings)
    gateways = providers.Container(Gateways, core=core)
    services = providers.Container(Services, core=core, gateways=gateways)


@asynccontextmanager
async def application(
    settings: Settings, *, embedded_default: bool = False
) -> AsyncIterator[Application]:
    """An `Application` whose resources are all closed on exit (also after a failed open)."""
    app = Application(settings=settings)
    app.gateways.embedded_default.override(providers.Object(embedded_default))
    try:
        yield app
    finally:
        await _shutdown(app)


async def _shutdown(app: Application) -> None:
    result = app.shutdown_resources()
    if result is not None:
        await result
