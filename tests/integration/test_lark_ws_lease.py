"""One long connection per app across replicas: the lease stores (SQL on PostgreSQL and
SQLite, memory), replicas as tasks and as processes (one SIGKILLed), fencing when the store
fails, and the per-app ``event_mode``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from lark_service.adapters.lark_ws import LeasedConnection, lease_name
from lark_service.adapters.memory.leases import InMemoryLeaseStore
from lark_service.adapters.postgres.leases import SqlLeaseStore
from lark_service.domain import AppConfig
from lark_service.domain.apps import EventMode
from lark_service.domain.errors import ConfigError, StoreError
from lark_service.domain.ports.leases import LeaseStore
from lark_service.entrypoints.long_connection import open_long_connections
from tests.unit.events_support import event_v2

from .conftest import SqlStores
from .lark_ws_support import APP_ID, RECONNECT_BOUND, SECRET, Harness, eventually, served_fake

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TTL = 0.8
RENEW = 0.2
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def h() -> Iterator[Harness]:
    with served_fake() as harness:
        yield harness


def replica(h: Harness, leases: LeaseStore, name: str) -> LeasedConnection:
    return LeasedConnection(
        app_id=APP_ID,
        factory=h.connection,
        leases=leases,
        holder=name,
        ttl=TTL,
        renew_every=RENEW,
    )


class Replicas:
    """Two replicas of one app on one lease store, run as tasks; the first holds."""

    def __init__(self, h: Harness) -> None:
        leases = InMemoryLeaseStore()
        self.first = replica(h, leases, "replica-1")
        self.second = replica(h, leases, "replica-2")
        self.tasks: list[asyncio.Task[None]] = []


@pytest.fixture
async def two(h: Harness) -> AsyncIterator[Replicas]:
    r = Replicas(h)
    r.tasks.append(asyncio.create_task(r.first.run()))
    await eventually(lambda: h.fake.long_connections.connections(APP_ID) == 1, within=3, what="1")
    r.tasks.append(asyncio.create_task(r.second.run()))
    yield r
    for leased in (r.first, r.second):
        await leased.stop()
    for task in r.tasks:
        task.cancel()
    await asyncio.gather(*r.tasks, return_exceptions=True)


# the SQL store ---------------------------------------------------------------------------
async def test_sql_lease_is_held_by_one_renewed_released_and_expires(store: SqlStores) -> None:
    leases = SqlLeaseStore(store.db)
    assert await leases.acquire_lease("duty", "a", ttl=30) is True
    assert await leases.acquire_lease("duty", "b", ttl=30) is False
    assert await leases.acquire_lease("duty", "a", ttl=30) is True  # a renewal
    assert await leases.lease_holder("duty") == "a"
    await leases.release_lease("duty", "b")  # not b's: nothing happens
    assert await leases.lease_holder("duty") == "a"
    await leases.release_lease("duty", "a")
    assert await leases.lease_holder("duty") is None
    assert await leases.acquire_lease("duty", "b", ttl=0.3) is True
    await asyncio.sleep(0.45)
    assert await leases.lease_holder("duty") is None  # expired on the database's clock
    assert await leases.acquire_lease("duty", "a", ttl=30) is True
    assert await leases.acquire_lease("duty", "b", ttl=30) is False  # b's renewal comes late


async def test_sql_lease_race_has_one_winner(store: SqlStores) -> None:
    leases = SqlLeaseStore(store.db)
    won = await asyncio.gather(*(leases.acquire_lease("race", f"h{i}", ttl=30) for i in range(8)))
    assert won.count(True) == 1
    assert await leases.lease_holder("race") == f"h{won.index(True)}"


async def test_event_mode_is_stored_with_the_app(store: SqlStores) -> None:
    await store.apps.save_app(AppConfig(app_id="cli_ws", app_secret="s", event_mode="websocket"))  # type: ignore[arg-type]
    await store.apps.save_app(AppConfig(app_id="cli_hook", app_secret="s"))
    assert (await store.apps.get_app("cli_ws")).event_mode is EventMode.WEBSOCKET  # type: ignore[union-attr]
    assert (await store.apps.get_app("cli_hook")).event_mode is EventMode.WEBHOOK  # type: ignore[union-attr]


def test_event_mode_is_checked() -> None:
    with pytest.raises(ConfigError, match="event_mode must be one of"):
        AppConfig(app_id="cli_x", app_secret="s", event_mode="carrier-pigeon")  # type: ignore[arg-type]


# replicas as tasks ------------------------------------------------------------------------
async def test_two_replicas_one_connection(h: Harness, two: Replicas) -> None:
    first, second = two.first, two.second
    await asyncio.sleep(TTL * 1.5)  # several renewals and failed takeovers
    assert first.holding and not second.holding
    assert h.fake.long_connections.max_connections(APP_ID) == 1
    assert h.fake.long_connections.connects(APP_ID) == 1
    h.fake.push_ws_event(APP_ID, event_v2(app_id=APP_ID, event_id="ev-1"))
    await eventually(lambda: h.published_ids() == ["ev-1"], within=3, what="the event")


async def test_a_crashed_holder_is_replaced_within_the_lease_time(
    h: Harness, two: Replicas
) -> None:
    second = two.second
    two.tasks[0].cancel()  # like a crash: no release, the socket just goes away
    crashed = time.monotonic()
    await eventually(
        lambda: h.fake.long_connections.connections(APP_ID) == 0, within=2, what="gone"
    )
    h.fake.push_ws_event(APP_ID, event_v2(app_id=APP_ID, event_id="ev-in-the-gap"))
    took = await eventually(
        lambda: second.connection is not None and second.connection.connected.is_set(),
        within=TTL + RENEW + RECONNECT_BOUND + 1,
        what="the takeover",
    )
    assert time.monotonic() - crashed <= TTL + RENEW + RECONNECT_BOUND
    assert took > 0 and h.fake.long_connections.max_connections(APP_ID) == 1
    await eventually(lambda: h.published_ids() == ["ev-in-the-gap"], within=3, what="event")


async def test_a_stopped_holder_hands_over_at_once(h: Harness, two: Replicas) -> None:
    first, second = two.first, two.second
    stopped = time.monotonic()
    await first.stop()
    await eventually(lambda: second.holding, within=RENEW + 1, what="the takeover")
    assert time.monotonic() - stopped <= RENEW + 0.5  # released: no waiting for expiry
    await eventually(
        lambda: h.fake.long_connections.connections(APP_ID) == 1, within=3, what="reconnected"
    )
    assert h.fake.long_connections.max_connections(APP_ID) == 1


class FailingLeases:
    """A replica whose lease store goes down on demand."""

    def __init__(self, inner: LeaseStore) -> None:
        self.inner = inner
        self.down = False

    async def acquire_lease(self, name: str, holder: str, *, ttl: float) -> bool:
        if self.down:
            raise StoreError("lease store unreachable")
        return await self.inner.acquire_lease(name, holder, ttl=ttl)

    async def release_lease(self, name: str, holder: str) -> None:
        if self.down:
            raise StoreError("lease store unreachable")
        await self.inner.release_lease(name, holder)

    async def lease_holder(self, name: str) -> str | None:
        return await self.inner.lease_holder(name)


async def test_a_holder_that_cannot_renew_closes_before_its_lease_expires(h: Harness) -> None:
    shared = InMemoryLeaseStore()
    failing = FailingLeases(shared)
    first, second = replica(h, failing, "replica-1"), replica(h, shared, "replica-2")
    tasks = [asyncio.create_task(first.run())]
    await eventually(lambda: first.holding, within=3, what="first holds")
    tasks.append(asyncio.create_task(second.run()))
    await eventually(
        lambda: h.fake.long_connections.connections(APP_ID) == 1, within=3, what="connected"
    )
    failing.down = True
    down = time.monotonic()
    await eventually(lambda: not first.holding, within=TTL + 1, what="first lets go")
    assert time.monotonic() - down < TTL  # before its lease can have expired
    await eventually(lambda: second.holding, within=TTL + RENEW + 1, what="second takes over")
    await eventually(
        lambda: h.fake.long_connections.connections(APP_ID) == 1, within=3, what="reconnected"
    )
    assert h.fake.long_connections.max_connections(APP_ID) == 1
    for r in (first, second):
        await r.stop()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_only_websocket_apps_get_a_long_connection(h: Harness) -> None:
    h.fake.add_app("cli_hook", "hook-secret-0123")
    apps = [
        AppConfig(app_id=APP_ID, app_secret=SECRET, event_mode=EventMode.WEBSOCKET),
        AppConfig(app_id="cli_hook", app_secret="hook-secret-0123"),
        AppConfig(app_id="cli_off", app_secret="s", event_mode=EventMode.WEBSOCKET, enabled=False),
    ]
    leases = InMemoryLeaseStore()
    async with open_long_connections(
        apps, h.deliver, leases, base_url=h.base_url, holder="me"
    ) as running:
        assert [r.app_id for r in running] == [APP_ID]
        await eventually(
            lambda: h.fake.long_connections.connections(APP_ID) == 1, within=3, what="open"
        )
        assert await leases.lease_holder(lease_name(APP_ID)) == "me"
        h.fake.push_ws_event(APP_ID, event_v2(app_id=APP_ID, event_id="ev-entry"))
        await eventually(lambda: h.published_ids() == ["ev-entry"], within=3, what="event")
    await eventually(
        lambda: h.fake.long_connections.connections(APP_ID) == 0, within=2, what="closed"
    )
    assert await leases.lease_holder(lease_name(APP_ID)) is None  # released on the way out
    assert h.fake.long_connections.connects("cli_hook") == 0


# replicas as processes ---------------------------------------------------------------------
@pytest.mark.slow
async def test_a_sigkilled_replica_is_replaced_within_the_lease_time(
    h: Harness, store: SqlStores, database_url: str, secret_key: str
) -> None:
    ttl, renew = 1.5, 0.3
    env = {
        **os.environ,
        "LARK_WS_TEST_DATABASE_URL": database_url,
        "LARK_WS_TEST_SECRET_KEY": secret_key,
        "LARK_WS_TEST_APP_SECRET": SECRET,
        "PYTHONPATH": str(ROOT),
    }
    args = [sys.executable, "-m", "tests.integration.lark_ws_holder", h.base_url, APP_ID]
    child = subprocess.Popen(
        [*args, str(ttl), str(renew)], env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 20)  # type: ignore[union-attr]
        assert line.strip() == "holding"
        leases = SqlLeaseStore(store.db)
        second = LeasedConnection(
            app_id=APP_ID, factory=h.connection, leases=leases, ttl=ttl, renew_every=renew
        )
        task = asyncio.create_task(second.run())
        await asyncio.sleep(ttl)  # the child keeps renewing: the second replica waits
        assert not second.holding and h.fake.long_connections.connections(APP_ID) == 1
        child.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await eventually(
            lambda: second.connection is not None and second.connection.connected.is_set(),
            within=ttl + renew + RECONNECT_BOUND + 2,
            what="the takeover",
        )
        assert time.monotonic() - killed <= ttl + renew + RECONNECT_BOUND + 0.5
        assert h.fake.long_connections.max_connections(APP_ID) == 1
        h.fake.push_ws_event(APP_ID, event_v2(app_id=APP_ID, event_id="ev-after-kill"))
        await eventually(lambda: h.published_ids() == ["ev-after-kill"], within=3, what="event")
        await second.stop()
        await task
    finally:
        child.kill()
        child.wait(5)
        if child.stdout is not None:
            child.stdout.close()
