"""The worker on the real broker: consumes, and on stop or SIGTERM finishes what it started."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest

from lark_service.adapters.amqp import AmqpSendQueue, SendQueueOptions
from lark_service.domain.errors import ConfigError, TransportError
from lark_service.domain.jobs import JobOutcome, QueueDepth, SendJob
from lark_service.entrypoints.worker import run_worker
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


async def _queue(prefix: str) -> AmqpSendQueue:
    return await AmqpSendQueue.connect(
        AMQP_URL, SendQueueOptions(prefix=prefix, retry=FAST_RETRY, drain_timeout=10)
    )


async def test_worker_handles_jobs_and_finishes_the_one_in_flight_on_stop(prefix: str) -> None:
    queue = await _queue(prefix)
    observer = await _queue(prefix)
    try:
        handled: list[str] = []
        started = asyncio.Event()
        release = asyncio.Event()

        async def handle_job(job: SendJob) -> JobOutcome:
            if job.receive_id == "oc_slow":
                started.set()
                await release.wait()
            handled.append(job.job_id)
            return JobOutcome.DONE

        quick = [make_job(n) for n in range(5)]
        for job in quick:
            await observer.publish(job)
        stop = asyncio.Event()
        worker = asyncio.create_task(
            run_worker(queue, handle_job, stop, prefetch=4, handle_signals=False)
        )
        await eventually(lambda: len(handled) == 5)

        slow = make_job(receive_id="oc_slow")
        await observer.publish(slow)
        await asyncio.wait_for(started.wait(), 10)
        stop.set()
        await asyncio.sleep(0.2)
        assert not worker.done()  # waiting for the job in flight
        release.set()
        await asyncio.wait_for(worker, 10)
        assert handled[-1] == slow.job_id

        await asyncio.sleep(0.1)
        # acknowledged: nothing left to redeliver, nothing dead
        assert await observer.depth() == QueueDepth(ready=0, dead=0)
        with pytest.raises(TransportError, match="closed"):
            await queue.publish(make_job())
    finally:
        await observer.aclose()


async def test_sigterm_stops_the_worker(prefix: str) -> None:
    queue = await _queue(prefix)
    handled: list[str] = []

    async def handle_job(job: SendJob) -> JobOutcome:
        handled.append(job.job_id)
        return JobOutcome.DONE

    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(queue, handle_job, stop))
    job = make_job(1)
    publisher = await _queue(prefix)
    try:
        await publisher.publish(job)
        await eventually(lambda: handled == [job.job_id])
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(worker, 10)
        assert stop.is_set()
    finally:
        await publisher.aclose()
    assert not queue.connected  # closed on the way out


async def test_bad_prefetch_is_a_config_error_and_the_queue_is_left_alone(prefix: str) -> None:
    queue = await _queue(prefix)
    try:

        async def handle_job(job: SendJob) -> JobOutcome:
            return JobOutcome.DONE

        with pytest.raises(ConfigError, match="prefetch"):
            await run_worker(queue, handle_job, asyncio.Event(), prefetch=0)
        assert queue.connected
    finally:
        await queue.aclose()


async def test_a_job_that_fails_during_shutdown_is_retried_not_lost(prefix: str) -> None:
    queue = await _queue(prefix)
    observer = await _queue(prefix)
    try:
        started = asyncio.Event()
        release = asyncio.Event()

        async def handle_job(job: SendJob) -> JobOutcome:
            started.set()
            await release.wait()
            return JobOutcome.RETRY

        job = make_job(9)
        await observer.publish(job)
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(queue, handle_job, stop, handle_signals=False))
        await asyncio.wait_for(started.wait(), 10)
        stop.set()
        release.set()
        await asyncio.wait_for(worker, 10)

        retried: list[SendJob] = []

        async def record(j: SendJob) -> JobOutcome:
            retried.append(j)
            return JobOutcome.DONE

        await observer.consume(record)
        await eventually(lambda: len(retried) == 1)
        assert retried[0].job_id == job.job_id
        assert retried[0].attempt == 1
    finally:
        await observer.aclose()
