"""The RabbitMQ send queue against the real broker: confirms, retries, dead letters, crashes."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator

import aio_pika
import pytest

from lark_service.adapters.amqp import (
    LAST_ERROR_HEADER,
    AmqpSendQueue,
    RetryPolicy,
    SendQueueOptions,
    open_connection,
)
from lark_service.domain.errors import ConfigError
from lark_service.domain.jobs import JobOutcome, QueueDepth, SendJob
from lark_service.domain.ports.send_queue import JobHandler
from tests.integration.amqp_scratch import (
    AMQP_URL,
    FAST_RETRY,
    eventually,
    make_job,
    scratch_prefix,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async with scratch_prefix() as p:
        yield p


@pytest.fixture
async def queue(prefix: str) -> AsyncIterator[AmqpSendQueue]:
    q = await AmqpSendQueue.connect(
        AMQP_URL, SendQueueOptions(prefix=prefix, retry=FAST_RETRY, drain_timeout=5)
    )
    yield q
    await q.aclose()


async def test_publish_then_consume_round_trip(queue: AmqpSendQueue) -> None:
    job = make_job(1)
    await queue.publish(job)
    assert await queue.depth() == QueueDepth(ready=1, dead=0)

    got: list[SendJob] = []

    async def handler(j: SendJob) -> JobOutcome:
        got.append(j)
        return JobOutcome.DONE

    await queue.consume(handler, prefetch=4)
    await eventually(lambda: len(got) == 1)
    assert got == [job]
    await asyncio.sleep(0.1)  # let the ack reach the broker
    assert await queue.depth() == QueueDepth(ready=0, dead=0)


async def test_retry_twice_then_done_is_delivered_three_times(queue: AmqpSendQueue) -> None:
    job = make_job(2)
    attempts: list[int] = []

    async def handler(j: SendJob) -> JobOutcome:
        attempts.append(j.attempt)
        return JobOutcome.RETRY if len(attempts) < 3 else JobOutcome.DONE

    await queue.consume(handler)
    await queue.publish(job)
    await eventually(lambda: len(attempts) == 3)
    await asyncio.sleep(0.3)  # longer than any retry delay: no fourth delivery comes
    assert attempts == [0, 1, 2]
    assert await queue.depth() == QueueDepth(ready=0, dead=0)


async def test_exhausted_job_is_dead_with_its_last_error_and_replays(prefix: str) -> None:
    policy = RetryPolicy(max_attempts=3, delays=FAST_RETRY.delays)
    queue = await AmqpSendQueue.connect(AMQP_URL, SendQueueOptions(prefix=prefix, retry=policy))
    try:
        job = make_job(3)
        deliveries: list[int] = []
        healed = asyncio.Event()

        async def handler(j: SendJob) -> JobOutcome:
            deliveries.append(j.attempt)
            if not healed.is_set():
                raise RuntimeError(f"lark down on attempt {j.attempt}")
            return JobOutcome.DONE

        await queue.consume(handler)
        await queue.publish(job)
        await eventually(lambda: len(deliveries) == 3)
        depth = QueueDepth(ready=0, dead=0)
        for _ in range(100):
            depth = await queue.depth()
            if depth.dead:
                break
            await asyncio.sleep(0.02)
        assert depth == QueueDepth(ready=0, dead=1)
        assert deliveries == [0, 1, 2]

        entries = await queue.dead_letter_entries()
        assert [e.job.job_id for e in entries] == [job.job_id]
        assert entries[0].job.attempt == 3
        assert entries[0].last_error == "RuntimeError: lark down on attempt 2"
        # Reading the dead letters does not consume them.
        assert [j.job_id for j in await queue.dead_letters()] == [job.job_id]
        assert (await queue.depth()).dead == 1

        assert await queue.replay_dead("no-such-job") == 0
        healed.set()
        assert await queue.replay_dead(job.job_id) == 1
        await eventually(lambda: len(deliveries) == 4)
        assert deliveries[-1] == 0  # a replayed job starts its attempts afresh
        await asyncio.sleep(0.1)
        assert await queue.depth() == QueueDepth(ready=0, dead=0)
    finally:
        await queue.aclose()


async def test_dead_outcome_goes_to_the_dead_queue_at_once(queue: AmqpSendQueue) -> None:
    keep, drop = make_job(4), make_job(5)
    await queue.publish(drop)
    await queue.publish(keep)
    seen: list[str] = []

    async def handler(j: SendJob) -> JobOutcome:
        seen.append(j.job_id)
        return JobOutcome.DEAD

    await queue.consume(handler)
    await eventually(lambda: len(seen) == 2)
    await asyncio.sleep(0.1)
    assert sorted(seen) == sorted([keep.job_id, drop.job_id])
    entries = await queue.dead_letter_entries()
    assert {e.job.job_id for e in entries} == {keep.job_id, drop.job_id}
    assert all(e.last_error == "the handler declared the job dead" for e in entries)
    # replay_dead(None) moves them all; consumed again, and dead again.
    assert await queue.replay_dead() == 2
    await eventually(lambda: len(seen) == 4)


async def test_consumer_dying_before_ack_redelivers_to_another(prefix: str) -> None:
    connection = await open_connection(AMQP_URL)
    crashing = await AmqpSendQueue.open(
        connection, SendQueueOptions(prefix=prefix, retry=FAST_RETRY)
    )
    survivor = await AmqpSendQueue.connect(
        AMQP_URL, SendQueueOptions(prefix=prefix, retry=FAST_RETRY)
    )
    release = asyncio.Event()
    try:
        started = asyncio.Event()

        async def stuck(j: SendJob) -> JobOutcome:
            started.set()
            await release.wait()
            return JobOutcome.DONE

        job = make_job(6)
        await crashing.consume(stuck, prefetch=1)
        await crashing.publish(job)
        await asyncio.wait_for(started.wait(), 10)

        got: list[SendJob] = []

        async def handler(j: SendJob) -> JobOutcome:
            got.append(j)
            return JobOutcome.DONE

        await survivor.consume(handler)
        await asyncio.sleep(0.1)
        assert got == []  # still held, unacknowledged, by the first consumer
        await connection.close()  # the "crash": the connection goes without an ack
        await eventually(lambda: len(got) == 1)
        assert got[0].job_id == job.job_id
        assert got[0].attempt == 1  # the delivery without an outcome counts as an attempt
        await asyncio.sleep(0.1)
        assert await survivor.depth() == QueueDepth(ready=0, dead=0)
    finally:
        release.set()
        await survivor.aclose()


async def test_burst_of_1000_jobs_two_consumers_nothing_lost(prefix: str) -> None:
    first = await AmqpSendQueue.connect(AMQP_URL, SendQueueOptions(prefix=prefix, retry=FAST_RETRY))
    second = await AmqpSendQueue.connect(
        AMQP_URL, SendQueueOptions(prefix=prefix, retry=FAST_RETRY)
    )
    try:
        jobs = [make_job(n) for n in range(1000)]
        handled: collections.Counter[str] = collections.Counter()
        by_consumer = collections.Counter[str]()

        def handler_for(name: str) -> JobHandler:
            async def handler(j: SendJob) -> JobOutcome:
                handled[j.job_id] += 1
                by_consumer[name] += 1
                await asyncio.sleep(0)
                return JobOutcome.DONE

            return handler

        await first.consume(handler_for("first"), prefetch=32)
        await second.consume(handler_for("second"), prefetch=32)
        for chunk in range(0, len(jobs), 100):
            await asyncio.gather(*(first.publish(j) for j in jobs[chunk : chunk + 100]))
        await eventually(lambda: len(handled) == 1000, within=60)
        await asyncio.sleep(0.2)
        assert set(handled) == {j.job_id for j in jobs}
        assert by_consumer["first"] > 0 and by_consumer["second"] > 0
        assert await first.depth() == QueueDepth(ready=0, dead=0)
        print(
            f"1000 jobs: distinct={len(handled)} deliveries={sum(handled.values())} {dict(by_consumer)}"
        )
    finally:
        await first.aclose()
        await second.aclose()


async def test_traceparent_travels_in_the_body_and_the_header(queue: AmqpSendQueue) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    job = make_job(7, traceparent=traceparent)
    await queue.publish(job)

    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    async with connection:
        channel = await connection.channel()
        raw = await channel.declare_queue(queue.topology.send_queue, passive=True)
        message = await raw.get(timeout=5)
        assert message.headers["traceparent"] == traceparent
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.message_id == job.job_id
        await message.nack(requeue=True)

    got: list[SendJob] = []

    async def handler(j: SendJob) -> JobOutcome:
        got.append(j)
        return JobOutcome.RETRY if len(got) == 1 else JobOutcome.DONE

    await queue.consume(handler)
    await eventually(lambda: len(got) == 2)
    # also after a retry, through the retry queue
    assert [j.traceparent for j in got] == [traceparent, traceparent]


async def test_dead_letter_header_names_the_last_error(prefix: str) -> None:
    policy = RetryPolicy(max_attempts=1, delays=FAST_RETRY.delays)
    queue = await AmqpSendQueue.connect(AMQP_URL, SendQueueOptions(prefix=prefix, retry=policy))
    try:

        async def handler(j: SendJob) -> JobOutcome:
            raise ValueError("bad content")

        await queue.consume(handler)
        await queue.publish(make_job(8))
        for _ in range(200):
            if (await queue.depth()).dead:
                break
            await asyncio.sleep(0.02)
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
        async with connection:
            channel = await connection.channel()
            raw = await channel.declare_queue(queue.topology.dead_queue, passive=True)
            message = await raw.get(timeout=5)
            assert message.headers[LAST_ERROR_HEADER] == "ValueError: bad content"
            await message.nack(requeue=True)
    finally:
        await queue.aclose()


async def test_bad_settings_fail_before_connecting() -> None:
    with pytest.raises(ConfigError, match="amqp_url"):
        await AmqpSendQueue.connect("http://example.invalid/")
    with pytest.raises(ConfigError, match="max_attempts"):
        await AmqpSendQueue.connect(AMQP_URL, SendQueueOptions(retry=RetryPolicy(max_attempts=0)))
    with pytest.raises(ConfigError, match="prefix"):
        await AmqpSendQueue.connect(AMQP_URL, SendQueueOptions(prefix="bad prefix!"))


async def test_a_handler_past_its_deadline_is_cancelled_and_the_job_retried(prefix: str) -> None:
    options = SendQueueOptions(prefix=prefix, retry=FAST_RETRY, handler_timeout=0.2)
    queue = await AmqpSendQueue.connect(AMQP_URL, options)
    try:
        attempts: list[int] = []
        cancelled = asyncio.Event()

        async def handler(j: SendJob) -> JobOutcome:
            attempts.append(j.attempt)
            if j.attempt == 0:
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    cancelled.set()
                    raise
            return JobOutcome.DONE

        await queue.consume(handler)
        await queue.publish(make_job(10))
        await eventually(lambda: attempts == [0, 1])
        assert cancelled.is_set()
    finally:
        await queue.aclose()


async def test_an_undecodable_message_goes_to_the_dead_queue(queue: AmqpSendQueue) -> None:
    seen: list[SendJob] = []

    async def handler(j: SendJob) -> JobOutcome:
        seen.append(j)
        return JobOutcome.DONE

    await queue.consume(handler)
    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    async with connection:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(b"not a job"), routing_key=queue.topology.send_queue
        )
    good = make_job(11)
    await queue.publish(good)
    await eventually(lambda: len(seen) == 1)
    for _ in range(100):
        if (await queue.depth()).dead:
            break
        await asyncio.sleep(0.02)
    assert await queue.depth() == QueueDepth(ready=0, dead=1)
    assert [j.job_id for j in seen] == [good.job_id]
    # not a job, so not listed or replayed, but kept for a human to look at
    assert await queue.dead_letters() == []
    assert await queue.replay_dead() == 0
    assert (await queue.depth()).dead == 1


async def test_a_job_that_kills_every_worker_ends_dead(prefix: str) -> None:
    options = SendQueueOptions(prefix=prefix, retry=RetryPolicy(max_attempts=2, delays=(0.05,)))
    admin = await AmqpSendQueue.connect(AMQP_URL, options)
    release = asyncio.Event()
    try:
        job = make_job(12)
        await admin.publish(job)
        started: list[int] = []
        for _ in range(3):
            connection = await open_connection(AMQP_URL)
            worker = await AmqpSendQueue.open(connection, options)
            began = asyncio.Event()

            async def fatal(j: SendJob) -> JobOutcome:
                started.append(j.attempt)
                began.set()
                await release.wait()
                return JobOutcome.DONE

            await worker.consume(fatal, prefetch=1)
            if len(started) < 2:
                await asyncio.wait_for(began.wait(), 10)
                await connection.close()  # the job "kills" this worker
            else:
                for _ in range(200):
                    if (await admin.depth()).dead:
                        break
                    await asyncio.sleep(0.02)
                await connection.close()
        assert started == [0, 1]
        entries = await admin.dead_letter_entries()
        assert [e.job.job_id for e in entries] == [job.job_id]
        assert entries[0].job.attempt == 2
        assert "without an outcome" in entries[0].last_error
    finally:
        release.set()
        await admin.aclose()


@pytest.mark.anyio
async def test_a_job_the_queue_dead_letters_itself_is_reported_to_on_dead(prefix: str) -> None:
    # e.g. a worker that crashed on the last attempt: no handler said DEAD, the queue did
    policy = RetryPolicy(max_attempts=2, delays=FAST_RETRY.delays)
    queue = await AmqpSendQueue.connect(AMQP_URL, SendQueueOptions(prefix=prefix, retry=policy))
    told: list[tuple[str, int, str]] = []

    async def on_dead(job: SendJob, error: str) -> None:
        told.append((job.job_id, job.attempt, error))

    try:

        async def handler(j: SendJob) -> JobOutcome:
            raise ValueError("still broken")

        await queue.consume(handler, on_dead=on_dead)
        job = make_job(9)
        await queue.publish(job)
        await eventually(lambda: bool(told))
        assert told == [(job.job_id, 2, "ValueError: still broken")]
        assert (await queue.depth()).dead == 1
    finally:
        await queue.aclose()
