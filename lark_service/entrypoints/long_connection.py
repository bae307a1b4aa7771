"""Run the long connections of the apps whose ``event_mode`` is ``websocket``.

    async with open_long_connections(apps, intake.accept, leases) as running:
        ...                                      # serve HTTP, etc.
    # left: every connection closed gracefully, every lease released

Each app gets a `LeasedConnection`: across replicas sharing ``leases`` (`SqlLeaseStore` on
PostgreSQL), one replica holds the app's socket. ``deliver`` is ``EventIntake.accept``, so
pushes over the long connection get the webhook's dedup, app_ticket handling, card
handlers and bus. ``base_url`` (``Settings.base_url``) sends every app to another host,
such as a fake Lark server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Iterable

from lark_service.adapters.lark_ws.client import Deliver, LongConnection, LongConnectionOptions
from lark_service.adapters.lark_ws.supervisor import DEFAULT_LEASE_TTL, LeasedConnection
from lark_service.adapters.memory.leases import InMemoryLeaseStore
from lark_service.adapters.postgres.database import SqlDatabase
from lark_service.adapters.postgres.leases import SqlLeaseStore
from lark_service.domain.apps import AppConfig, EventMode
from lark_service.domain.ports.leases import LeaseStore

__all__ = ["lease_store", "open_long_connections", "run_long_connections"]

log = logging.getLogger("lark_service.long_connection")


def lease_store(database: SqlDatabase | None) -> LeaseStore:
    """Leases in the database (shared by replicas), else in this process."""
    return SqlLeaseStore(database) if database is not None else InMemoryLeaseStore()


def leased_connections(
    apps: Iterable[AppConfig],
    deliver: Deliver,
    leases: LeaseStore,
    *,
    base_url: str | None = None,
    options: LongConnectionOptions | None = None,
    lease_ttl: float = DEFAULT_LEASE_TTL,
    holder: str | None = None,
) -> list[LeasedConnection]:
    """One `LeasedConnection` per enabled app in ``websocket`` mode."""
    chosen = [a for a in apps if a.enabled and a.event_mode is EventMode.WEBSOCKET]

    def factory(app: AppConfig) -> LongConnection:
        return LongConnection(
            app_id=app.app_id,
            app_secret=app.app_secret,
            base_url=base_url or app.base_url,
            deliver=deliver,
            options=options,
        )

    return [
        LeasedConnection(
            app_id=app.app_id,
            factory=functools.partial(factory, app),
            leases=leases,
            holder=holder,
            ttl=lease_ttl,
        )
        for app in chosen
    ]


@contextlib.asynccontextmanager
async def open_long_connections(
    apps: Iterable[AppConfig],
    deliver: Deliver,
    leases: LeaseStore,
    *,
    base_url: str | None = None,
    options: LongConnectionOptions | None = None,
    lease_ttl: float = DEFAULT_LEASE_TTL,
    holder: str | None = None,
) -> AsyncIterator[list[LeasedConnection]]:
    """Start the apps' leased long connections; stop them gracefully on leaving."""
    running = leased_connections(
        apps,
        deliver,
        leases,
        base_url=base_url,
        options=options,
        lease_ttl=lease_ttl,
        holder=holder,
    )
    tasks = [asyncio.create_task(r.run(), name=f"long-connection:{r.app_id}") for r in running]
    for task in tasks:
        task.add_done_callback(_report)
    try:
        yield running
    finally:
        await asyncio.gather(*(r.stop() for r in running), return_exceptions=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_long_connections(
    apps: Iterable[AppConfig],
    deliver: Deliver,
    leases: LeaseStore,
    *,
    base_url: str | None = None,
    options: LongConnectionOptions | None = None,
    lease_ttl: float = DEFAULT_LEASE_TTL,
) -> None:
    """`open_long_connections` until cancelled (then graceful)."""
    async with open_long_connections(
        apps, deliver, leases, base_url=base_url, options=options, lease_ttl=lease_ttl
    ):
        await asyncio.Event().wait()


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s ended: %s", task.get_name(), task.exception())
