"""The RabbitMQ event bus against the real broker: topic routing, own queues, durability."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aio_pika
import pytest

from lark_service.adapters.amqp import AmqpEventBus, EventBusOptions, Topology
from lark_service.domain.errors import ConfigError
from lark_service.domain.ports.events import EventHandler
from tests.integration.amqp_scratch import AMQP_URL, eventually, scratch_prefix

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async with scratch_prefix(subscribers=("audit",)) as p:
        yield p


@pytest.fixture
async def bus(prefix: str) -> AsyncIterator[AmqpEventBus]:
    b = await AmqpEventBus.connect(AMQP_URL, EventBusOptions(prefix=prefix))
    yield b
    await b.aclose()


def collector(into: list[bytes]) -> EventHandler:
    async def handler(payload: bytes) -> None:
        into.append(payload)

    return handler


async def test_topic_routing_by_app_and_event_type(bus: AmqpEventBus) -> None:
    app_a: list[bytes] = []
    messages: list[bytes] = []
    everything: list[bytes] = []
    await bus.subscribe("cli_a.#", collector(app_a))
    await bus.subscribe("*.im.message.receive_v1", collector(messages))
    await bus.subscribe("#", collector(everything))

    await bus.publish("cli_a.im.message.receive_v1", b"a-msg")
    await bus.publish("cli_b.im.message.receive_v1", b"b-msg")
    await bus.publish("cli_a.message.sent", b"a-sent")
    await bus.publish("cli_b.message.failed", b"b-failed")

    await eventually(lambda: len(everything) == 4)
    await asyncio.sleep(0.1)
    assert sorted(app_a) == [b"a-msg", b"a-sent"]
    assert sorted(messages) == [b"a-msg", b"b-msg"]
    assert sorted(everything) == [b"a-msg", b"a-sent", b"b-failed", b"b-msg"]


async def test_each_subscriber_gets_its_own_copy(bus: AmqpEventBus) -> None:
    first: list[bytes] = []
    second: list[bytes] = []
    await bus.subscribe("cli_a.#", collector(first))
    await bus.subscribe("cli_a.#", collector(second))
    await bus.publish("cli_a.card.action.trigger", b"{}")
    await eventually(lambda: len(first) == 1 and len(second) == 1)


async def test_named_subscription_keeps_events_while_no_one_listens(prefix: str) -> None:
    first = await AmqpEventBus.connect(AMQP_URL, EventBusOptions(prefix=prefix))
    got: list[bytes] = []
    await first.subscribe("cli_a.#", collector(got), name="audit")
    await first.aclose()

    publisher = await AmqpEventBus.connect(AMQP_URL, EventBusOptions(prefix=prefix))
    try:
        await publisher.publish("cli_a.im.message.receive_v1", b"while-away")
        await publisher.subscribe("cli_a.#", collector(got), name="audit")
        await eventually(lambda: got == [b"while-away"])
    finally:
        await publisher.aclose()


async def test_a_failing_handler_gets_the_event_twice_then_it_is_dropped(
    bus: AmqpEventBus,
) -> None:
    calls: list[bytes] = []
    ok: list[bytes] = []

    async def flaky(payload: bytes) -> None:
        calls.append(payload)
        if payload == b"poison":
            raise RuntimeError("cannot handle")
        ok.append(payload)

    await bus.subscribe("cli_a.#", flaky)
    await bus.publish("cli_a.x", b"poison")
    await bus.publish("cli_a.y", b"fine")
    await eventually(lambda: calls.count(b"poison") == 2 and ok == [b"fine"])
    await asyncio.sleep(0.2)
    assert calls.count(b"poison") == 2


async def test_bad_topics_are_config_errors(bus: AmqpEventBus) -> None:
    with pytest.raises(ConfigError, match="topic"):
        await bus.publish("", b"x")
    with pytest.raises(ConfigError, match="topic"):
        await bus.publish("cli_a.#", b"x")  # a pattern is not a routing key
    with pytest.raises(ConfigError, match="topic"):
        await bus.subscribe("cli a", collector([]))


async def test_traceparent_header_on_events(bus: AmqpEventBus, prefix: str) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    async with connection:
        channel = await connection.channel()
        raw = await channel.declare_queue(exclusive=True)
        await raw.bind(Topology(prefix=prefix).events_exchange, routing_key="cli_a.#")
        await bus.publish("cli_a.im.message.receive_v1", b"{}", traceparent=traceparent)
        message = await raw.get(timeout=5)
        assert message.headers["traceparent"] == traceparent
        assert message.routing_key == "cli_a.im.message.receive_v1"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        await message.ack()


async def test_a_handler_past_its_deadline_gets_the_event_again(prefix: str) -> None:
    bus = await AmqpEventBus.connect(AMQP_URL, EventBusOptions(prefix=prefix, handler_timeout=0.2))
    try:
        calls: list[bytes] = []

        async def slow_once(payload: bytes) -> None:
            calls.append(payload)
            if len(calls) == 1:
                await asyncio.sleep(30)

        await bus.subscribe("cli_a.#", slow_once)
        await bus.publish("cli_a.im.message.receive_v1", b"e1")
        await eventually(lambda: calls == [b"e1", b"e1"])
    finally:
        await bus.aclose()
