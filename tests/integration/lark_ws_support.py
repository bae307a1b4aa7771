"""Helpers of the long-connection tests: a fake served over a socket with short intervals,
an intake on in-memory stores, and a bounded wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from lark_service.adapters.lark_ws import LongConnection, LongConnectionOptions
from lark_service.adapters.memory import (
    InMemoryAppTicketStore,
    InMemoryEventBus,
    InMemoryProcessedEventStore,
    SystemClock,
)
from lark_service.application.usecases.events import EventIntake
from lark_service.domain.events import LarkEvent
from lark_service.testing import FakeLark, serve_in_thread

APP_ID = "cli_ws_test"
SECRET = "ws-secret-0123456789"

# Lark's own are 120 s / 30 s / 120 s; the fake sends these instead
PING = 0.1
NONCE = 0.05
RECONNECT = 0.3

OPTIONS = LongConnectionOptions(
    min_backoff=0.05,
    protocol_ping_interval=None,  # Lark's pings only: the fake's faults act on those
    drain_timeout=2.0,
    close_timeout=1.0,
    discovery_timeout=3.0,
    open_timeout=3.0,
)
# reconnect bound after a drop: the nonce, two backoff steps, discovery and dial
RECONNECT_BOUND = NONCE + 1.0
# the watchdog sees a dead socket after ``missed_pongs`` quiet ping intervals, at a tick
WATCHDOG_BOUND = PING * (OPTIONS.missed_pongs + 2)


@dataclass
class Harness:
    """The fake over a socket, and what the long connection delivers into."""

    fake: FakeLark
    base_url: str
    bus: InMemoryEventBus = field(default_factory=InMemoryEventBus)
    processed: InMemoryProcessedEventStore = field(default_factory=InMemoryProcessedEventStore)
    delivered: list[LarkEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.intake = EventIntake(
            bus=self.bus,
            processed=self.processed,
            tickets=InMemoryAppTicketStore(),
            clock=SystemClock(),
        )

    async def deliver(self, app_id: str, event: LarkEvent) -> dict[str, object]:
        self.delivered.append(event)
        return await self.intake.accept(app_id, event)

    def connection(
        self, *, secret: str = SECRET, options: LongConnectionOptions = OPTIONS
    ) -> LongConnection:
        return LongConnection(
            app_id=APP_ID,
            app_secret=secret,
            base_url=self.base_url,
            deliver=self.deliver,
            options=options,
        )

    def published_ids(self) -> list[str]:
        import msgspec

        return [msgspec.json.decode(raw)["header"]["event_id"] for _, raw in self.bus.published]


@contextmanager
def served_fake() -> Iterator[Harness]:
    fake = FakeLark()
    fake.add_app(APP_ID, SECRET)
    fake.long_connections.set_config(
        PingInterval=PING, ReconnectNonce=NONCE, ReconnectInterval=RECONNECT
    )
    with serve_in_thread(fake) as running:
        yield Harness(fake, running.base_url)


async def eventually(check: Callable[[], bool], *, within: float, what: str) -> float:
    """Wait until ``check()`` holds; the seconds it took. AssertionError after ``within``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within:g} s: {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - started
