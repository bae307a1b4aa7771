"""A broker connection cut mid-run: the adapters reconnect, re-declare and lose nothing.

The cut is made by a TCP proxy the test controls between the adapters and RabbitMQ, so it needs
no admin rights on the broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from yarl import URL

from lark_service.adapters.amqp import (
    AmqpEventBus,
    AmqpSendQueue,
    EventBusOptions,
    SendQueueOptions,
)
from lark_service.domain.jobs import JobOutcome, SendJob
from tests.integration.amqp_scratch import (
    AMQP_URL,
    FAST_RETRY,
    eventually,
    make_job,
    scratch_prefix,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


class CuttableProxy:
    """Forwards TCP connections to the broker; ``cut`` drops every open one at once."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0
        self.accepted = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def cut(self) -> int:
        cut = len(self._writers)
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        return cut

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@pytest.fixture
async def proxy_url() -> AsyncIterator[tuple[CuttableProxy, str]]:
    target = URL(AMQP_URL)
    proxy = CuttableProxy(target.host or "127.0.0.1", target.port or 5672)
    await proxy.start()
    yield proxy, str(target.with_host("127.0.0.1").with_port(proxy.port))
    await proxy.close()


async def test_send_queue_and_bus_survive_a_connection_cut(
    proxy_url: tuple[CuttableProxy, str],
) -> None:
    proxy, url = proxy_url
    async with scratch_prefix(subscribers=("audit",)) as prefix:
        queue = await AmqpSendQueue.connect(
            url, SendQueueOptions(prefix=prefix, retry=FAST_RETRY, publish_timeout=15)
        )
        bus = await AmqpEventBus.connect(url, EventBusOptions(prefix=prefix, publish_timeout=15))
        try:
            handled: set[str] = set()
            events: list[bytes] = []

            async def handler(job: SendJob) -> JobOutcome:
                handled.add(job.job_id)
                return JobOutcome.DONE

            async def on_event(payload: bytes) -> None:
                events.append(payload)

            await queue.consume(handler)
            # Named, so durable: an anonymous queue dies with the connection and misses
            # what is published before it is re-declared.
            await bus.subscribe("cli_a.#", on_event, name="audit")
            before = [make_job(n) for n in range(20)]
            for job in before:
                await queue.publish(job)
            await bus.publish("cli_a.before", b"before")
            await eventually(lambda: len(handled) == 20 and events == [b"before"])

            accepted = proxy.accepted
            assert proxy.cut() > 0
            await eventually(lambda: not queue.connected and not bus.connected, within=5)
            # Published during the outage: each publish waits for the restored channel.
            after = [make_job(n) for n in range(20, 40)]
            await asyncio.gather(*(queue.publish(job) for job in after))
            await bus.publish("cli_a.after", b"after")

            await eventually(lambda: len(handled) == 40, within=20)
            await eventually(lambda: b"after" in events, within=20)
            assert handled == {j.job_id for j in before + after}
            assert proxy.accepted > accepted  # it really reconnected
            assert queue.connected and bus.connected
        finally:
            await queue.aclose()
            await bus.aclose()
