"""Event dedup on the SQL store: a push Lark delivers again after a restart is still dropped."""

from __future__ import annotations

import pytest

from lark_service.adapters.memory import ManualClock
from lark_service.adapters.memory.event_bus import InMemoryEventBus
from lark_service.application.usecases.events import DEFAULT_DEDUP_TTL, EventIntake
from lark_service.domain.events import parse_event
from tests.unit.events_support import event_v2

from .conftest import OpenStore, SqlStores

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def intake(stores: SqlStores, bus: InMemoryEventBus, clock: ManualClock) -> EventIntake:
    return EventIntake(
        bus=bus, processed=stores.processed_events, tickets=stores.app_tickets, clock=clock
    )


async def test_event_published_once_across_a_restart(open_store: OpenStore) -> None:
    clock = ManualClock()
    bus = InMemoryEventBus()
    raw = event_v2(app_id="cli_x", event_id="ev-restart")
    first = await open_store()
    for _ in range(3):
        await intake(first, bus, clock).accept("cli_x", parse_event(raw))
    await first.aclose()

    # a new process: new engine, new intake, the same database
    second = await open_store()
    clock.advance(3600)  # Lark's retry an hour later
    await intake(second, bus, clock).accept("cli_x", parse_event(raw))
    assert bus.published == [("cli_x.im.message.receive_v1", raw)]

    # once expired and pruned, the id is forgotten
    clock.advance(DEFAULT_DEDUP_TTL)
    assert await intake(second, bus, clock).prune() == 1
    await intake(second, bus, clock).accept("cli_x", parse_event(raw))
    assert len(bus.published) == 2


async def test_forget_event_lets_the_redelivery_through(open_store: OpenStore) -> None:
    store = (await open_store()).processed_events
    assert await store.remember_event("cli_x:e1", expires_at=10.0) is True
    assert await store.remember_event("cli_x:e1", expires_at=10.0) is False
    await store.forget_event("cli_x:e1")
    assert await store.remember_event("cli_x:e1", expires_at=10.0) is True
    assert await store.seen_event("cli_x:e1", now=10.0) is True  # expires at 10: still seen
    assert await store.seen_event("cli_x:e1", now=10.5) is False  # lapsed, though not pruned
    assert await store.seen_event("cli_x:other", now=0.0) is False
