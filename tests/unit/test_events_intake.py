"""`EventIntake` on in-memory stores, and the send results `SendingService` publishes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from lark_service.adapters.memory import ManualClock
from lark_service.adapters.memory.event_bus import InMemoryEventBus
from lark_service.adapters.memory.jobs import InMemoryJobStore
from lark_service.adapters.memory.send_queue import InMemorySendQueue
from lark_service.adapters.memory.store import (
    InMemoryAppStore,
    InMemoryAppTicketStore,
    InMemoryProcessedEventStore,
    InMemoryTokenStore,
    MemoryState,
)
from lark_service.application import CredentialPool
from lark_service.application.clients.messaging import MessagingClient
from lark_service.application.manager import ApplicationManager
from lark_service.application.usecases.events import CLAIM_TTL, DEFAULT_DEDUP_TTL, EventIntake
from lark_service.application.usecases.sending import SendingService
from lark_service.domain.apps import AppConfig
from lark_service.domain.errors import TransportError
from lark_service.domain.events import EventDecodeError, EventInProgressError, parse_event
from lark_service.domain.jobs import JobOutcome, JobRecord, SendJob
from lark_service.domain.ports.events import EventHandler
from lark_service.domain.tokens import AccessToken, TokenKind

from .events_support import app_ticket_v1, event_v2

pytestmark = pytest.mark.anyio


class BrokenBus(InMemoryEventBus):
    """A bus whose broker is away for the first ``failures`` publishes."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def publish(self, topic: str, payload: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise TransportError("the broker is away")
        await super().publish(topic, payload)


def intake(bus: InMemoryEventBus, state: MemoryState, clock: ManualClock) -> EventIntake:
    return EventIntake(
        bus=bus,
        processed=InMemoryProcessedEventStore(state),
        tickets=InMemoryAppTicketStore(state),
        clock=clock,
    )


async def test_failed_publish_is_not_remembered_so_the_redelivery_gets_through() -> None:
    bus, state, clock = BrokenBus(failures=1), MemoryState(), ManualClock()
    events = intake(bus, state, clock)
    event = parse_event(event_v2(app_id="cli_x", event_id="ev-1"))
    with pytest.raises(TransportError):
        await events.accept("cli_x", event)
    assert state.events == {}
    assert await events.accept("cli_x", event) == {"msg": "success"}
    assert await events.accept("cli_x", event) == {"msg": "success"}
    assert bus.published == [("cli_x.im.message.receive_v1", event.raw)]


class StuckBus(InMemoryEventBus):
    """A bus whose publishes never return: the process handling the event has died."""

    async def publish(self, topic: str, payload: bytes) -> None:
        await asyncio.Event().wait()


async def test_a_redelivery_while_the_first_is_handled_is_refused_not_dropped() -> None:
    state, clock = MemoryState(), ManualClock()
    event = parse_event(event_v2(app_id="cli_x", event_id="ev-dies"))
    # the first delivery reaches a process that dies while publishing: it never answers Lark
    dying = asyncio.get_running_loop().create_task(
        intake(StuckBus(), state, clock).accept("cli_x", event)
    )
    await asyncio.sleep(0)
    # another replica gets Lark's redelivery: not a success (that would lose the event)
    bus = InMemoryEventBus()
    replica = intake(bus, state, clock)
    with pytest.raises(EventInProgressError) as refused:
        await replica.accept("cli_x", event)
    assert refused.value.status == 503 and bus.published == []
    # Lark's next try, after the dead process's claim lapsed: handled, once
    clock.advance(CLAIM_TTL + 1)
    assert await replica.accept("cli_x", event) == {"msg": "success"}
    assert await replica.accept("cli_x", event) == {"msg": "success"}  # now a duplicate
    assert bus.published == [("cli_x.im.message.receive_v1", event.raw)]
    dying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dying
    assert await replica.accept("cli_x", event) == {"msg": "success"}
    assert len(bus.published) == 1  # the dead handler's late clean-up changed nothing


async def test_dedup_entries_expire_and_are_pruned() -> None:
    bus, state, clock = InMemoryEventBus(), MemoryState(), ManualClock()
    events = intake(bus, state, clock)
    first = parse_event(event_v2(app_id="cli_x", event_id="old"))
    await events.accept("cli_x", first)
    clock.advance(DEFAULT_DEDUP_TTL / 2)
    await events.accept("cli_x", parse_event(event_v2(app_id="cli_x", event_id="new")))
    clock.advance(DEFAULT_DEDUP_TTL / 2 + 1)
    assert await events.prune() == 1
    assert list(state.events) == ["cli_x:new"]


async def test_same_event_id_for_two_apps_is_two_events() -> None:
    bus, state, clock = InMemoryEventBus(), MemoryState(), ManualClock()
    events = intake(bus, state, clock)
    await events.accept("cli_a", parse_event(event_v2(app_id="cli_a", event_id="same")))
    await events.accept("cli_b", parse_event(event_v2(app_id="cli_b", event_id="same")))
    assert [topic for topic, _ in bus.published] == [
        "cli_a.im.message.receive_v1",
        "cli_b.im.message.receive_v1",
    ]


async def test_app_ticket_without_ticket_is_refused_and_forgotten() -> None:
    bus, state, clock = InMemoryEventBus(), MemoryState(), ManualClock()
    events = intake(bus, state, clock)
    body = msgspec.json.decode(app_ticket_v1(app_id="cli_m", ticket="t"))
    del body["event"]["app_ticket"]
    with pytest.raises(EventDecodeError):
        await events.accept("cli_m", parse_event(msgspec.json.encode(body)))
    assert state.events == {} and state.app_tickets == {}
    await events.accept("cli_m", parse_event(app_ticket_v1(app_id="cli_m", ticket="t2")))
    assert state.app_tickets["cli_m"] == ("t2", clock.now() + 12 * 3600)


async def test_subscriber_receives_the_event_bytes() -> None:
    bus, state, clock = InMemoryEventBus(), MemoryState(), ManualClock()
    got: list[bytes] = []

    async def handler(payload: bytes) -> None:
        got.append(payload)

    subscriber: EventHandler = handler
    await bus.subscribe("cli_x.im.message.receive_v1", subscriber)
    raw = event_v2(app_id="cli_x")
    await intake(bus, state, clock).accept("cli_x", parse_event(raw))
    assert got == [raw]


@pytest.fixture
async def sending(pool: CredentialPool) -> AsyncIterator[tuple[SendingService, InMemoryEventBus]]:
    bus = InMemoryEventBus()
    queue = InMemorySendQueue()
    service = SendingService(
        messaging=MessagingClient(pool),
        jobs=InMemoryJobStore(),
        queue=queue,
        clock=pool.clock,
        max_attempts=1,
        bus=bus,
    )
    yield service, bus
    await queue.aclose()


def job(job_id: str, msg_type: str = "text") -> SendJob:
    return SendJob(
        job_id=job_id,
        app_id="cli_app0",
        receive_id="oc_results",
        receive_id_type="chat_id",
        msg_type=msg_type,
        content='{"text": "hi"}',
    )


async def test_send_results_are_published(
    sending: tuple[SendingService, InMemoryEventBus],
) -> None:
    service, bus = sending
    assert await service.handle_job(job("00000000-0000-4000-8000-000000000001")) is JobOutcome.DONE
    topic, payload = bus.published[-1]
    record = msgspec.json.decode(payload, type=JobRecord)
    assert topic == "cli_app0.message.sent" and record.status == "sent" and record.message_id

    outcome = await service.handle_job(job("00000000-0000-4000-8000-000000000002", "image"))
    assert outcome is JobOutcome.DONE
    topic, payload = bus.published[-1]
    record = msgspec.json.decode(payload, type=JobRecord)
    assert topic == "cli_app0.message.failed" and record.status == "failed"
    assert record.error_msg


class NoTokens:
    """The manager's token cache, unused by ``load_env``."""

    def forget_tokens(self, app_id: str) -> None:
        pass

    async def fetch_token(self, app: AppConfig, kind: TokenKind, tenant_key: str) -> AccessToken:
        raise AssertionError("load_env fetches no token")


async def test_load_env_reads_event_keys() -> None:
    state = MemoryState()
    manager = ApplicationManager(
        {},
        app_store=InMemoryAppStore(state),
        token_store=InMemoryTokenStore(state),
        tokens=NoTokens(),
    )
    env = {
        "LARK_APPS__BOT__APP_ID": "cli_env",
        "LARK_APPS__BOT__APP_SECRET": "s",
        "LARK_APPS__BOT__ENCRYPT_KEY": "ek",
        "LARK_APPS__BOT__VERIFICATION_TOKEN": "vt",
        "LARK_APP_ID": "cli_one",
        "LARK_APP_SECRET": "s1",
        "LARK_APP_ENCRYPT_KEY": "ek1",
        "LARK_APP_VERIFICATION_TOKEN": "vt1",
    }
    apps = {a.app_id: a for a in await manager.load_env(env)}
    assert (apps["cli_env"].encrypt_key, apps["cli_env"].verification_token) == ("ek", "vt")
    assert (apps["cli_one"].encrypt_key, apps["cli_one"].verification_token) == ("ek1", "vt1")
    assert "ek" not in repr(apps["cli_env"]) and "vt" not in repr(apps["cli_env"])
