"""The long connection against the fake Lark over a real socket: delivery and answers,
multi-part pushes, card callbacks, the faults (drop, silence, half-open, a lost answer) with
reconnects inside the backoff bound, no push lost and none handled twice, graceful stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import msgspec
import pytest

from lark_service.adapters.lark_ws import LongConnection
from lark_service.adapters.memory import InMemoryEventBus
from lark_service.domain.errors import AuthError
from lark_service.domain.events import LarkEvent
from tests.unit.events_support import event_v2

from .lark_ws_support import (
    APP_ID,
    OPTIONS,
    RECONNECT_BOUND,
    SECRET,
    WATCHDOG_BOUND,
    Harness,
    eventually,
    served_fake,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    with served_fake() as harness:
        yield harness


@pytest.fixture
async def running(h: Harness) -> AsyncIterator[LongConnection]:
    conn = h.connection()
    task = asyncio.create_task(conn.run())
    await asyncio.wait_for(conn.connected.wait(), 5)
    yield conn
    await conn.stop()
    await asyncio.wait_for(task, 5)


class FailOnceBus(InMemoryEventBus):
    """A bus whose first publish fails (the broker was briefly down)."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def publish(self, topic: str, payload: bytes) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("bus down")
        await super().publish(topic, payload)


def push(h: Harness, event_id: str, *, parts: int = 1) -> str:
    return h.fake.push_ws_event(APP_ID, event_v2(app_id=APP_ID, event_id=event_id), parts=parts)


async def test_events_are_delivered_once_and_answered_200(
    h: Harness, running: LongConnection
) -> None:
    ids = [f"ev-{i}" for i in range(5)]
    for event_id in ids:
        push(h, event_id)
    await eventually(lambda: len(h.fake.long_connections.acks(APP_ID)) == 5, within=3, what="acks")
    assert sorted(h.published_ids()) == ids
    assert [t for t, _ in h.bus.published] == [f"{APP_ID}.im.message.receive_v1"] * 5
    acks = h.fake.long_connections.acks(APP_ID)
    assert {a.code for a in acks} == {200} and all(a.data == {"msg": "success"} for a in acks)
    assert all(a.biz_rt.isdigit() for a in acks)
    assert h.fake.long_connections.unacked(APP_ID) == 0
    assert running.handled == 5 and running.connects == 1


async def test_pings_at_the_servers_interval(h: Harness, running: LongConnection) -> None:
    before = h.fake.long_connections.pings(APP_ID)
    await asyncio.sleep(0.55)
    pings = h.fake.long_connections.pings(APP_ID) - before
    assert 3 <= pings <= 8  # PingInterval 0.1 s from the fake's ClientConfig
    assert running.config.ping_interval == pytest.approx(0.1)


async def test_a_multi_part_push_is_reassembled(h: Harness, running: LongConnection) -> None:
    big = {"text": "x" * 20_000}
    raw = event_v2(app_id=APP_ID, event_id="ev-big", event=big)
    h.fake.push_ws_event(APP_ID, raw, parts=4)
    await eventually(lambda: len(h.bus.published) == 1, within=3, what="the big event")
    assert h.bus.published[0][1] == raw  # byte for byte, as Lark sent it
    assert [a.code for a in h.fake.long_connections.acks(APP_ID)] == [200]


async def test_a_card_callback_is_answered_with_the_handlers_reply(
    h: Harness, running: LongConnection
) -> None:
    reply: dict[str, object] = {"toast": {"type": "success", "content": "done"}}
    seen: list[LarkEvent] = []

    async def on_card(event: LarkEvent) -> dict[str, object]:
        seen.append(event)
        return reply

    h.intake.register_card_handler(on_card, app_id=APP_ID)
    card = event_v2(
        app_id=APP_ID,
        event_type="card.action.trigger",
        event_id="card-1",
        event={"operator": {"open_id": "ou_1"}, "action": {"value": {"k": "v"}, "tag": "button"}},
    )
    h.fake.push_ws_event(APP_ID, card)
    await eventually(lambda: bool(h.fake.long_connections.acks(APP_ID)), within=3, what="ack")
    (ack,) = h.fake.long_connections.acks(APP_ID)
    assert ack.code == 200 and ack.data == reply
    assert [e.event["action"]["value"] for e in seen] == [{"k": "v"}]


async def test_a_push_that_is_not_lark_json_is_answered_400(
    h: Harness, running: LongConnection
) -> None:
    h.fake.push_ws_event(APP_ID, b"not json")
    await eventually(lambda: bool(h.fake.long_connections.acks(APP_ID)), within=3, what="ack")
    assert [a.code for a in h.fake.long_connections.acks(APP_ID)] == [400]
    assert h.bus.published == []


async def test_a_failed_delivery_is_answered_500_and_sent_again(
    h: Harness, running: LongConnection
) -> None:
    bus = FailOnceBus()
    h.bus = h.intake.bus = bus
    push(h, "ev-flaky")
    await eventually(lambda: bool(h.fake.long_connections.acks(APP_ID)), within=3, what="ack")
    assert [a.code for a in h.fake.long_connections.acks(APP_ID)] == [500]
    assert h.fake.long_connections.unacked(APP_ID) == 1 and h.bus.published == []
    # the dedup forgot it (the publish failed), so Lark's next delivery is published
    assert h.fake.long_connections.redeliver(APP_ID) == 1
    await eventually(lambda: len(h.fake.long_connections.acks(APP_ID)) == 2, within=3, what="ack")
    assert [a.code for a in h.fake.long_connections.acks(APP_ID)] == [500, 200]
    assert h.published_ids() == ["ev-flaky"] and h.fake.long_connections.unacked(APP_ID) == 0


async def test_a_dropped_socket_is_redialled_and_unacked_pushes_sent_again(
    h: Harness, running: LongConnection
) -> None:
    h.fake.long_connections.inject("drop", APP_ID)
    dropped = time.monotonic()
    # queued behind the close: they never reach the old socket, so they stay unacked
    push(h, "ev-while-down-1")
    push(h, "ev-while-down-2")
    # (the redial may beat a poll of `connected`: count the dials instead)
    await eventually(lambda: running.connects == 2, within=3, what="the reconnect")
    assert time.monotonic() - dropped < RECONNECT_BOUND
    await eventually(lambda: len(h.bus.published) == 2, within=3, what="re-sent pushes")
    assert sorted(h.published_ids()) == ["ev-while-down-1", "ev-while-down-2"]
    await eventually(lambda: h.fake.long_connections.unacked(APP_ID) == 0, within=3, what="acks")
    assert running.connects == 2


async def test_a_lost_answer_means_a_redelivery_that_the_dedup_drops(
    h: Harness, running: LongConnection
) -> None:
    h.fake.long_connections.inject("drop_on_ack", APP_ID)
    push(h, "ev-answer-lost")
    await eventually(lambda: running.connects == 2, within=RECONNECT_BOUND + 1, what="redial")
    await eventually(lambda: bool(h.fake.long_connections.acks(APP_ID)), within=3, what="ack")
    # delivered twice over the socket, published once, answered once (as success)
    assert [e.event_id for e in h.delivered] == ["ev-answer-lost", "ev-answer-lost"]
    assert h.published_ids() == ["ev-answer-lost"]
    assert [a.code for a in h.fake.long_connections.acks(APP_ID)] == [200]


async def test_silence_trips_the_watchdog(h: Harness, running: LongConnection) -> None:
    h.fake.long_connections.inject("silence", APP_ID)
    silenced = time.monotonic()
    await eventually(lambda: running.connects == 2, within=3, what="a new connection")
    assert time.monotonic() - silenced < WATCHDOG_BOUND + RECONNECT_BOUND
    await eventually(
        lambda: h.fake.long_connections.connections(APP_ID) == 1, within=2, what="old closed"
    )
    push(h, "ev-after-silence")
    await eventually(lambda: h.published_ids() == ["ev-after-silence"], within=3, what="event")


async def test_a_half_open_socket_is_abandoned_and_its_push_not_lost(
    h: Harness, running: LongConnection
) -> None:
    h.fake.long_connections.inject("half_open", APP_ID)
    dead = time.monotonic()
    push(h, "ev-into-the-void")  # sent into the dead socket: never arrives, never answered
    await eventually(lambda: running.connects == 2, within=3, what="a new connection")
    assert time.monotonic() - dead < WATCHDOG_BOUND + RECONNECT_BOUND
    await eventually(lambda: len(h.bus.published) == 1, within=3, what="the re-sent push")
    assert h.published_ids() == ["ev-into-the-void"]
    await eventually(
        lambda: h.fake.long_connections.connections(APP_ID) == 1, within=2, what="dead closed"
    )


async def test_stop_answers_pushes_in_flight_then_closes(h: Harness) -> None:
    started = asyncio.Event()

    async def slow(app_id: str, event: LarkEvent) -> dict[str, object]:
        started.set()
        await asyncio.sleep(0.3)
        return {"msg": "success"}

    conn = LongConnection(
        app_id=APP_ID,
        app_secret=SECRET,
        base_url=h.base_url,
        deliver=slow,
        options=OPTIONS,
    )
    task = asyncio.create_task(conn.run())
    await asyncio.wait_for(conn.connected.wait(), 5)
    push(h, "ev-slow")
    await asyncio.wait_for(started.wait(), 3)
    await conn.stop()
    assert task.done() and task.exception() is None
    assert [a.code for a in h.fake.long_connections.acks(APP_ID)] == [200]
    await eventually(
        lambda: h.fake.long_connections.connections(APP_ID) == 0, within=2, what="closed"
    )
    assert conn.connects == 1


async def test_stop_while_waiting_to_reconnect_returns_at_once(h: Harness) -> None:
    h.fake.long_connections.set_config(ReconnectNonce=30)
    conn = h.connection()
    task = asyncio.create_task(conn.run())
    await asyncio.wait_for(conn.connected.wait(), 5)
    h.fake.long_connections.inject("drop", APP_ID)
    await eventually(lambda: not conn.connected.is_set(), within=2, what="the drop")
    stopping = time.monotonic()
    await conn.stop()
    assert task.done() and time.monotonic() - stopping < 1.0


async def test_a_busy_endpoint_is_retried(h: Harness) -> None:
    h.fake.long_connections.inject("busy", count=2)
    conn = h.connection()
    task = asyncio.create_task(conn.run())
    await asyncio.wait_for(conn.connected.wait(), 5)
    discoveries = [r for r in h.fake.requests if r.path == "/callback/ws/endpoint"]
    assert len(discoveries) == 3 and conn.connects == 1
    await conn.stop()
    await task


async def test_a_wrong_secret_ends_run_with_auth_error(h: Harness) -> None:
    conn = h.connection(secret="wrong-secret-0123")
    with pytest.raises(AuthError) as info:
        await asyncio.wait_for(conn.run(), 5)
    assert info.value.code == 10014 and "wrong-secret" not in str(info.value)
    discoveries = [r for r in h.fake.requests if r.path == "/callback/ws/endpoint"]
    assert len(discoveries) == 1  # refused, not retried


async def test_discovery_sends_lark_s_body_and_headers(h: Harness, running: LongConnection) -> None:
    (request,) = [r for r in h.fake.requests if r.path == "/callback/ws/endpoint"]
    assert request.headers["locale"] == "zh"
    assert msgspec.json.decode(request.body) == {
        "AppID": APP_ID,
        "AppSecret": "ws-secret-0123456789",
    }


async def test_stop_with_no_grace_drops_pushes_in_flight_unanswered(h: Harness) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def stuck(app_id: str, event: LarkEvent) -> dict[str, object]:
        entered.set()
        await release.wait()
        return {"msg": "success"}

    conn = LongConnection(
        app_id=APP_ID, app_secret=SECRET, base_url=h.base_url, deliver=stuck, options=OPTIONS
    )
    task = asyncio.create_task(conn.run())
    await asyncio.wait_for(conn.connected.wait(), 5)
    push(h, "ev-stuck")
    await asyncio.wait_for(entered.wait(), 3)
    stopping = time.monotonic()
    await conn.stop(grace=0.0)  # as when the lease is lost: no overlap with the next holder
    assert time.monotonic() - stopping < 0.5 and task.done()
    await eventually(
        lambda: h.fake.long_connections.connections(APP_ID) == 0, within=2, what="closed"
    )
    assert h.fake.long_connections.acks(APP_ID) == []
    assert h.fake.long_connections.unacked(APP_ID) == 1  # Lark sends it to the next holder
