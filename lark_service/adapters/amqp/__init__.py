"""RabbitMQ adapters: the send queue (``lark.send`` with retries and ``lark.send.dead``) and the
event bus (topic exchange ``lark.events``), on aio-pika's self-healing connection."""

from lark_service.adapters.amqp.connection import open_connection, redact_url
from lark_service.adapters.amqp.dead_letters import LAST_ERROR_HEADER, DeadLetter
from lark_service.adapters.amqp.event_bus import AmqpEventBus, EventBusOptions
from lark_service.adapters.amqp.send_queue import AmqpSendQueue, SendQueueOptions
from lark_service.adapters.amqp.topology import RetryPolicy, Topology

__all__ = [
    "LAST_ERROR_HEADER",
    "AmqpEventBus",
    "AmqpSendQueue",
    "DeadLetter",
    "EventBusOptions",
    "RetryPolicy",
    "SendQueueOptions",
    "Topology",
    "open_connection",
    "redact_url",
]
