"""Opening a self-healing connection to RabbitMQ, with a deadline, without leaking the password.

aio-pika's robust connection is used instead of bare aiormq because it owns reconnection: after a
connection loss it reconnects, reopens every channel, re-applies QoS, re-declares the exchanges and
queues declared through it, re-binds them and restarts their consumers. Written by hand on
aiormq that would be a few hundred lines of state tracking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aio_pika.connection import make_url
from yarl import URL

from lark_service.domain.errors import ConfigError, TransportError

log = logging.getLogger("lark_service.amqp")


class Declares(Protocol):
    async def declare(self) -> None: ...


A = TypeVar("A", bound=Declares)


def redact_url(url: str) -> str:
    """The URL with its password replaced, for errors and logs."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return "<unparsable AMQP URL>"
    return str(parsed.with_password("***")) if parsed.password else str(parsed)


def check_url(url: str) -> URL:
    if not isinstance(url, str) or not url:
        raise ConfigError("amqp_url is required (LARK_SERVICE_AMQP_URL)")
    try:
        parsed = URL(url)
    except (TypeError, ValueError) as exc:
        raise ConfigError("amqp_url is not a URL") from exc
    if parsed.scheme not in ("amqp", "amqps") or not parsed.host:
        raise ConfigError(
            f"amqp_url must be amqp://host[:port]/vhost or amqps://…: {redact_url(url)}"
        )
    return parsed


def check_timeout(name: str, value: float) -> float:
    if not value > 0:
        raise ConfigError(f"{name} must be a positive number of seconds")
    return float(value)


async def open_connection(
    url: str, *, connect_timeout: float = 10.0, reconnect_interval: float = 1.0
) -> AbstractRobustConnection:
    """Connect to ``url`` within ``connect_timeout`` seconds; reconnects by itself afterwards.

    Raises `ConfigError` for a bad URL (before any network call) and `TransportError` when the
    broker cannot be reached or refuses the login in time.
    """
    check_url(url)
    check_timeout("connect_timeout", connect_timeout)
    check_timeout("reconnect_interval", reconnect_interval)
    # Built here rather than through connect_robust so that a failed first attempt can be
    # closed: a robust connection whose first attempt timed out keeps retrying in the background
    # for ever otherwise.
    connection = aio_pika.RobustConnection(
        make_url(url, reconnect_interval=reconnect_interval),
        client_properties={"connection_name": "lark-service"},
    )
    try:
        async with asyncio.timeout(connect_timeout):
            await connection.connect(timeout=connect_timeout)
    except BaseException as exc:
        await connection.close()
        if isinstance(exc, TimeoutError):
            raise TransportError(
                f"RabbitMQ at {redact_url(url)} did not answer within {connect_timeout:g} s"
            ) from exc
        if isinstance(exc, (OSError, aio_pika.exceptions.AMQPError)):
            raise TransportError(
                f"cannot connect to RabbitMQ at {redact_url(url)}: {type(exc).__name__}"
            ) from exc
        raise
    return connection


async def connect_and_declare(
    url: str,
    connect_timeout: float,
    make: Callable[[AbstractRobustConnection], A],
) -> A:
    """``make`` an adapter on its own new connection and declare its topology; a failed
    declaration closes the connection again (nothing left retrying in the background)."""
    connection = await open_connection(url, connect_timeout=connect_timeout)
    adapter = make(connection)
    try:
        await adapter.declare()
    except BaseException:
        await connection.close()
        raise
    return adapter
