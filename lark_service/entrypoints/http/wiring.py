"""The HTTP service's use cases over a pool and the service's stores.

`build_services` makes the use cases and clients; `open_services` takes the stores and queue
from the composition root (`entrypoints.bootstrap`; in memory when none are given), runs the
in-process send queue with its worker when no broker is configured, and provisions
``LARK_SERVICE_ADMIN_KEY``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from lark_service.adapters.memory.api_keys import InMemoryApiKeyStore
from lark_service.adapters.memory.event_bus import InMemoryEventBus
from lark_service.adapters.memory.grant_sessions import InMemoryGrantSessionStore
from lark_service.adapters.memory.jobs import InMemoryJobStore
from lark_service.adapters.memory.send_queue import InMemorySendQueue, Sleep
from lark_service.adapters.memory.store import InMemoryProcessedEventStore
from lark_service.application.clients.contact import ContactClient
from lark_service.application.clients.docs import DocClient
from lark_service.application.clients.messaging import MessagingClient
from lark_service.application.clients.tables import WorkspaceTableClient
from lark_service.application.pool import CredentialPool
from lark_service.application.usecases.apps import AppsService
from lark_service.application.usecases.events import DEFAULT_DEDUP_TTL, EventIntake
from lark_service.application.usecases.grant_card_actions import AuthorizationCardActions
from lark_service.application.usecases.grants import GrantService
from lark_service.application.usecases.keys import ADMIN_KEY_ENV, ApiKeyService
from lark_service.application.usecases.sending import DEFAULT_MAX_ATTEMPTS, SendingService
from lark_service.domain.ports.api_keys import ApiKeyStore
from lark_service.domain.ports.events import EventBus
from lark_service.domain.ports.grant_sessions import GrantSessionStore
from lark_service.domain.ports.processed_events import ProcessedEventStore
from lark_service.domain.ports.send_queue import JobStore, SendQueue
from lark_service.entrypoints.http.services import DEFAULT_MAX_BODY_SIZE, ReadinessCheck, Services

log = logging.getLogger("lark_service.http")


def build_services(
    pool: CredentialPool,
    *,
    jobs: JobStore,
    queue: SendQueue,
    api_keys: ApiKeyStore,
    bus: EventBus,
    processed_events: ProcessedEventStore,
    readiness: Sequence[tuple[str, ReadinessCheck]] = (),
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    grant_sessions: GrantSessionStore | None = None,
    grant_secret: str | None = None,
    oauth_redirect_uri: str = "",
    dedup_ttl: float = DEFAULT_DEDUP_TTL,
) -> Services:
    """The use cases and clients over ``pool`` and the given stores, queue and bus.

    ``grant_secret`` signs OAuth states: replicas behind one callback URL need the same one
    (a random one serves a single process).
    """
    messaging = MessagingClient(pool)
    grants = GrantService(
        pool,
        sessions=InMemoryGrantSessionStore() if grant_sessions is None else grant_sessions,
        messaging=messaging,
        secret=grant_secret or secrets.token_urlsafe(32),
        redirect_uri=oauth_redirect_uri,
        bus=bus,
    )
    grants.watch_pool()
    services = Services(
        pool=pool,
        sending=SendingService(
            messaging=messaging,
            jobs=jobs,
            queue=queue,
            clock=pool.clock,
            max_attempts=max_attempts,
            bus=bus,
            metrics=pool.metrics,
            tracer=pool.tracer,
        ),
        apps=AppsService(pool.apps),
        keys=ApiKeyService(api_keys, clock=pool.clock),
        messaging=messaging,
        contact=ContactClient(pool),
        docs=DocClient(pool),
        tables=WorkspaceTableClient(pool),
        events=EventIntake(
            bus=bus,
            processed=processed_events,
            tickets=pool.ticket_store,
            clock=pool.clock,
            dedup_ttl=dedup_ttl,
            metrics=pool.metrics,
        ),
        bus=bus,
        readiness=readiness,
        grants=grants,
        max_body_size=max_body_size,
    )
    AuthorizationCardActions(grants).register(services.events)  # the card's buttons
    return services


@asynccontextmanager
async def open_services(
    pool: CredentialPool,
    *,
    jobs: JobStore | None = None,
    api_keys: ApiKeyStore | None = None,
    admin_key: str | None = None,
    queue: SendQueue | None = None,
    bus: EventBus | None = None,
    processed_events: ProcessedEventStore | None = None,
    readiness: Sequence[tuple[str, ReadinessCheck]] = (),
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    retry_delay: float = 1.0,
    sleep: Sleep = asyncio.sleep,
    grant_sessions: GrantSessionStore | None = None,
    grant_secret: str | None = None,
    oauth_redirect_uri: str = "",
    dedup_ttl: float = DEFAULT_DEDUP_TTL,
) -> AsyncIterator[Services]:
    """Services with their stores and a send queue.

    ``jobs`` and ``api_keys`` are the composition root's stores (SQL when a database is
    configured); without them they are in memory. A ``queue`` given (the RabbitMQ adapter)
    is used as it is: its worker runs elsewhere and dead-letters through
    ``SendingService.is_done`` and ``mark_dead``; ``readiness`` adds checks (the broker's) to
    ``/readyz``.
    Without one, an in-process queue is consumed here: failed jobs are retried after
    ``retry_delay`` s, doubling, through ``sleep`` (tests pass one that does not wait), and
    it is closed at exit. The pool stays the caller's.

    ``bus`` (the RabbitMQ event bus) receives Lark's events and the send results; without one
    an in-process bus is used (and closed at exit). ``processed_events`` remembers event ids
    (give the SQL store so that deduplication survives restarts), each for ``dedup_ttl``
    seconds (the ``event_dedup_retention`` setting); in memory without one.
    """
    async with AsyncExitStack() as stack:
        jobs = InMemoryJobStore() if jobs is None else jobs
        api_keys = InMemoryApiKeyStore() if api_keys is None else api_keys
        if processed_events is None:
            processed_events = InMemoryProcessedEventStore()
        if bus is None:
            bus = InMemoryEventBus()
            stack.push_async_callback(bus.aclose)
        in_process: InMemorySendQueue | None = None
        if queue is None:
            queue = in_process = InMemorySendQueue(
                max_attempts=max_attempts, base_delay=retry_delay, sleep=sleep
            )
            stack.push_async_callback(in_process.aclose)

        async def store_ready() -> str | None:
            await jobs.get_job("readyz")
            return None

        services = build_services(
            pool,
            jobs=jobs,
            queue=queue,
            api_keys=api_keys,
            bus=bus,
            processed_events=processed_events,
            readiness=[("store", store_ready), *readiness],
            max_attempts=max_attempts,
            grant_sessions=grant_sessions,
            grant_secret=grant_secret,
            oauth_redirect_uri=oauth_redirect_uri,
            dedup_ttl=dedup_ttl,
        )
        stack.push_async_callback(_finish_card_updates, services)
        if admin_key and await services.keys.ensure(admin_key, ("admin",), name=ADMIN_KEY_ENV):
            log.warning("created the admin API key given in %s", ADMIN_KEY_ENV)
        if in_process is not None:
            await in_process.consume(
                services.sending.handle_job,
                on_dead=services.sending.mark_dead,
                is_done=services.sending.is_done,
            )
        yield services


CARD_UPDATE_DRAIN = 5.0  # seconds at shutdown for in-place card updates already started


async def _finish_card_updates(services: Services) -> None:
    """Let started card updates end (each has its own deadline), then cancel the rest."""
    updates = services.events.card_updates
    if not await updates.drain(CARD_UPDATE_DRAIN):
        log.warning("%d card updates still running at shutdown: cancelled", updates.pending)
    await updates.aclose()
