"""One confirmed publish with a deadline, surviving a reconnection in the middle.

A robust channel restores itself after a connection loss but does not replay a publish that
failed meanwhile (aio-pika leaves that to the application). So a publish that fails on a broken
channel waits for the channel to be restored and tries again, until its deadline. A publish whose
confirm was lost may reach the broker twice; consumers dedupe by job id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustChannel
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError, PublishError

from lark_service.domain.errors import TransportError

log = logging.getLogger("lark_service.amqp")

# After a failed attempt: a short pause so a channel that only looks ready is not hammered.
_PAUSE = 0.05


def persistent_message(
    body: bytes, *, headers: dict[str, str | int], message_id: str | None = None
) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers=dict(headers),
        message_id=message_id,
    )


async def publish_confirmed(
    channel: AbstractRobustChannel,
    exchange: AbstractExchange,
    routing_key: str,
    message: aio_pika.Message,
    *,
    within: float,
    mandatory: bool,
) -> None:
    """Publish; return once RabbitMQ confirmed, or raise `TransportError` after ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: BaseException | None = None
    while (remaining := deadline - loop.time()) > 0:
        try:
            async with asyncio.timeout(remaining):
                if last is not None:
                    await asyncio.sleep(_PAUSE)
                    await channel.ready()
                await exchange.publish(message, routing_key, mandatory=mandatory, timeout=remaining)
                return
        except TimeoutError as exc:
            last = exc
            break
        except (DeliveryError, PublishError) as exc:
            # The broker refused or could not route the message: trying again would not help.
            raise TransportError(
                f"RabbitMQ refused the message for {routing_key!r}: {type(exc).__name__}"
            ) from exc
        except CONNECTION_EXCEPTIONS as exc:
            last = exc
    raise TransportError(
        f"RabbitMQ did not confirm the message for {routing_key!r} within {within:g} s"
        + (f" ({type(last).__name__})" if last is not None else "")
    ) from last


async def settle(settling: Awaitable[None]) -> None:
    """Await an ack or nack, tolerating a channel that died meanwhile (the broker redelivers)."""
    try:
        await settling
    except CONNECTION_EXCEPTIONS as exc:
        log.warning(
            "could not settle a delivery (%s); the broker will redeliver it", type(exc).__name__
        )
