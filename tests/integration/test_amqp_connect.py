"""Connecting: bad URLs fail before any network call, dead brokers within the deadline, and
the password never shows in an error."""

from __future__ import annotations

import asyncio
import time

import pytest

from lark_service.adapters.amqp import AmqpEventBus, AmqpSendQueue, EventBusOptions, redact_url
from lark_service.domain.errors import ConfigError, TransportError

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SECRET = "s3cret-pw"


async def test_refused_connection_is_a_transport_error_without_the_password() -> None:
    # Port 1 on loopback: nothing listens there.
    with pytest.raises(TransportError) as caught:
        await AmqpSendQueue.connect(f"amqp://guest:{SECRET}@127.0.0.1:1/", connect_timeout=5)
    assert SECRET not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)


async def test_a_broker_that_never_answers_fails_by_the_deadline() -> None:
    silent: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)  # accept, then say nothing

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(TransportError, match=r"did not answer within 0\.5 s") as caught:
            await AmqpEventBus.connect(
                f"amqp://guest:{SECRET}@127.0.0.1:{port}/", connect_timeout=0.5
            )
        assert time.monotonic() - started < 3
        assert SECRET not in str(caught.value)
    finally:
        for writer in silent:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("url", ["", "http://broker/", "amqp://", "not a url at all ::"], ids=repr)
async def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="amqp_url"):
        await AmqpSendQueue.connect(url)
    with pytest.raises(ConfigError, match="amqp_url"):
        await AmqpEventBus.connect(url)


async def test_bad_timeouts_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="connect_timeout"):
        await AmqpSendQueue.connect("amqp://127.0.0.1/", connect_timeout=0)
    with pytest.raises(ConfigError, match="publish_timeout"):
        await AmqpEventBus.connect("amqp://127.0.0.1/", EventBusOptions(publish_timeout=-1))


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url(f"amqp://guest:{SECRET}@rabbit:5672/vh") == "amqp://guest:***@rabbit:5672/vh"
    assert redact_url("amqp://rabbit/") == "amqp://rabbit/"
