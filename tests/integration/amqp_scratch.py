"""Scratch RabbitMQ topology for integration tests: every name under a unique prefix.

A prefix (not a scratch vhost) keeps tests apart because it needs no admin rights: the
management plugin is off on this machine and CI's broker is reached as guest only. Everything the
prefix names is deleted at the end of the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable

import aio_pika
import msgspec
import pytest

from lark_service.adapters.amqp import RetryPolicy, Topology
from lark_service.domain.jobs import SendJob

AMQP_URL = os.environ.get("LARK_SERVICE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

# Short delays so retries take milliseconds, not seconds.
FAST_RETRY = RetryPolicy(max_attempts=5, delays=(0.05, 0.1))


async def _reachable() -> None:
    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"RabbitMQ not reachable ({type(exc).__name__})")
    await connection.close()


@contextlib.asynccontextmanager
async def scratch_prefix(
    *, delays: tuple[float, ...] = FAST_RETRY.delays, subscribers: tuple[str, ...] = ()
) -> AsyncIterator[str]:
    """A fresh prefix; its queues and exchange are deleted afterwards."""
    await _reachable()
    prefix = f"test-{uuid.uuid4().hex[:10]}."
    try:
        yield prefix
    finally:
        topology = Topology(prefix=prefix)
        queues = [topology.send_queue, topology.dead_queue]
        queues += [topology.retry_queue(d) for d in delays]
        queues += [topology.subscriber_queue(s) for s in subscribers]
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
        async with connection:
            channel = await connection.channel()
            for name in queues:
                await channel.queue_delete(name)
            await channel.exchange_delete(topology.events_exchange)


def make_job(n: int = 0, **changes: object) -> SendJob:
    job = SendJob(
        job_id=uuid.uuid4().hex,
        app_id="cli_test",
        receive_id=f"oc_{n}",
        receive_id_type="chat_id",
        msg_type="text",
        content=f'{{"text": "job {n}"}}',
        enqueued_at=time.time(),
    )
    return msgspec.structs.replace(job, **changes)


async def eventually(condition: Callable[[], bool], *, within: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.02)
