"""The `EventBus` port on RabbitMQ: the durable topic exchange ``lark.events``.

Topics are routing keys, ``<app_id>.<event_type>`` (``cli_x.im.message.receive_v1``,
``cli_x.message.sent``); ``subscribe`` takes a binding pattern (``cli_x.#``, ``*.message.*``).
Each subscription gets its own queue: a durable ``lark.events.<name>`` shared by every replica of
a named subscriber (they compete for its events), or an exclusive queue that lives as long as the
connection when no name is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid

import aio_pika
import msgspec
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from lark_service.adapters.amqp.connection import (
    check_timeout,
    connect_and_declare,
)
from lark_service.adapters.amqp.publishing import persistent_message, publish_confirmed, settle
from lark_service.adapters.amqp.topology import Topology
from lark_service.domain.errors import ConfigError, TransportError
from lark_service.domain.ports.events import EventBus, EventHandler

log = logging.getLogger("lark_service.amqp.events")

_TOPIC = re.compile(r"[A-Za-z0-9_.:-]{1,255}")
_PATTERN = re.compile(r"[A-Za-z0-9_.:*#-]{1,255}")
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


class EventBusOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How the event bus behaves; every wait has its deadline here (seconds)."""

    prefix: str = ""  # put before the exchange and queue names
    publish_timeout: float = 10.0  # a publish (confirm included) or a declaration
    handler_timeout: float = 60.0  # one subscriber handler call

    def validate(self) -> EventBusOptions:
        Topology(prefix=self.prefix).validate()
        check_timeout("publish_timeout", self.publish_timeout)
        check_timeout("handler_timeout", self.handler_timeout)
        return self


class AmqpEventBus(EventBus):
    """Publishes events to ``lark.events`` with publisher confirms; delivers them to subscribers."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        options: EventBusOptions | None = None,
        *,
        owns_connection: bool = False,
    ) -> None:
        """Prefer `connect` or `open`, which also declare the exchange."""
        self._connection = connection
        options = (options or EventBusOptions()).validate()
        self._topology = Topology(prefix=options.prefix)
        self._publish_timeout = options.publish_timeout
        self._handler_timeout = options.handler_timeout
        self._owns_connection = owns_connection
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._subscriptions: list[tuple[AbstractRobustChannel, AbstractQueue, str]] = []
        self._closed = False

    @classmethod
    async def connect(
        cls, url: str, options: EventBusOptions | None = None, *, connect_timeout: float = 10.0
    ) -> AmqpEventBus:
        """Connect to ``url`` (``LARK_SERVICE_AMQP_URL``) and declare ``lark.events``.

        The URL and the options are checked (`ConfigError`) before the connection is attempted.
        """
        options = (options or EventBusOptions()).validate()
        return await connect_and_declare(
            url, connect_timeout, lambda connection: cls(connection, options, owns_connection=True)
        )

    @classmethod
    async def open(
        cls, connection: AbstractRobustConnection, options: EventBusOptions | None = None
    ) -> AmqpEventBus:
        """Use a connection shared with other adapters; ``aclose`` leaves it open."""
        self = cls(connection, options)
        await self.declare()
        return self

    async def declare(self) -> None:
        """Declare this adapter's exchanges and queues (idempotent)."""
        try:
            async with asyncio.timeout(self._publish_timeout):
                channel = await self._connection.channel(publisher_confirms=True)
                self._exchange = await channel.declare_exchange(
                    self._topology.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
                )
        except TimeoutError as exc:
            raise TransportError("declaring the events exchange timed out") from exc
        self._channel = channel

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up now (for readiness checks)."""
        return (
            not self._connection.is_closed
            and self._channel is not None
            and not self._channel.is_closed
        )

    def _open_channel(self) -> tuple[AbstractRobustChannel, AbstractExchange]:
        if self._closed or self._channel is None or self._exchange is None:
            raise TransportError("the event bus is closed")
        return self._channel, self._exchange

    async def publish(self, topic: str, payload: bytes, *, traceparent: str | None = None) -> None:
        """Publish ``payload`` with routing key ``topic``; returns once RabbitMQ confirmed it.

        An event nobody subscribed to is dropped by the broker, as topic exchanges do.
        """
        if not _TOPIC.fullmatch(topic):
            raise ConfigError(
                f"topic must be a routing key like '<app_id>.<event_type>': {topic!r}"
            )
        channel, exchange = self._open_channel()
        headers: dict[str, str | int] = {"traceparent": traceparent} if traceparent else {}
        await publish_confirmed(
            channel,
            exchange,
            topic,
            persistent_message(payload, headers=headers),
            within=self._publish_timeout,
            mandatory=False,
        )

    async def subscribe(
        self,
        topic: str,
        handler: EventHandler,
        *,
        name: str | None = None,
        prefetch: int = 16,
    ) -> None:
        """Deliver events whose routing key matches the pattern ``topic`` to ``handler``.

        ``name`` makes the subscription durable (queue ``lark.events.<name>``): events published
        while no replica runs, or while the connection is being restored, wait for it. Without a
        name the queue lives as long as the connection: events published during a reconnection
        are missed. A handler that raises (or runs past ``handler_timeout``) gets the event once
        more; if it fails again the event is dropped and logged, so one bad event cannot block
        the queue.
        """
        if not _PATTERN.fullmatch(topic):
            raise ConfigError(f"topic must be a routing key pattern: {topic!r}")
        if name is not None and not _NAME.fullmatch(name):
            raise ConfigError("name must be 1-100 letters, digits, '_', '.', ':' or '-'")
        if not 1 <= prefetch <= 65_535:
            raise ConfigError("prefetch must be between 1 and 65535")
        self._open_channel()
        try:
            async with asyncio.timeout(self._publish_timeout):
                channel = await self._connection.channel()
                await channel.set_qos(prefetch_count=prefetch)
                if name is None:
                    queue = await channel.declare_queue(
                        self._topology.subscriber_queue(f"anon.{uuid.uuid4().hex}"), exclusive=True
                    )
                else:
                    queue = await channel.declare_queue(
                        self._topology.subscriber_queue(name), durable=True
                    )
                await queue.bind(self._topology.events_exchange, routing_key=topic)
        except TimeoutError as exc:
            raise TransportError("subscribing to the event bus timed out") from exc

        async def on_message(message: AbstractIncomingMessage) -> None:
            try:
                async with asyncio.timeout(self._handler_timeout):
                    await handler(message.body)
            except Exception:
                log.exception("event handler failed for %s", message.routing_key)
                await settle(message.nack(requeue=not message.redelivered))
                return
            await settle(message.ack())

        tag = await queue.consume(on_message, no_ack=False)
        self._subscriptions.append((channel, queue, tag))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for channel, queue, tag in self._subscriptions:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS, TimeoutError):
                await queue.cancel(tag, timeout=self._publish_timeout)
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await channel.close()
        self._subscriptions.clear()
        if self._channel is not None:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await self._channel.close()
            self._channel = None
        if self._owns_connection:
            await self._connection.close()
