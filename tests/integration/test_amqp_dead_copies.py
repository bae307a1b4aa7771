"""A copy of a send job that RabbitMQ's queue dead-letters on its own, against the job record.

A crash between the queue's re-publish of a job and its ack leaves two copies. Here the copy is
redelivered on its last attempt (a worker took it and died), so the queue counts it as failed
without running the handler and would dead-letter it: it asks the job's record first (real
PostgreSQL, through a proxy that can cut the store off). Sent → acknowledged, not dead; record
unreadable → dead-lettered as before, never lost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import msgspec
import pytest

from lark_service.adapters.amqp import AmqpSendQueue, RetryPolicy, SendQueueOptions, Topology
from lark_service.adapters.memory.clock import ManualClock
from lark_service.adapters.postgres import SqlDatabase, generate_key
from lark_service.adapters.postgres.jobs import SqlJobStore
from lark_service.application import CredentialPool, MessagingClient
from lark_service.application.usecases.sending import SendingService
from lark_service.domain.jobs import JobOutcome, JobRecord, QueueDepth, SendJob
from tests.integration.amqp_scratch import (
    AMQP_URL,
    FAST_RETRY,
    eventually,
    make_job,
    scratch_prefix,
)
from tests.integration.pg_proxy import pg_url, proxy, via
from tests.integration.tcp_proxy import Mode, TcpProxy
from tests.job_store_support import sent_record

__all__ = ["pg_url", "proxy"]  # fixtures

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

POLICY = RetryPolicy(max_attempts=2, delays=FAST_RETRY.delays)


def _options(prefix: str) -> SendQueueOptions:
    # a publish timeout (the hooks' deadline) shorter than the store's own deadlines, so that
    # a store dropping packets meets the queue's deadline
    return SendQueueOptions(prefix=prefix, retry=POLICY, publish_timeout=1.0, drain_timeout=10.0)


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async with scratch_prefix() as p:
        yield p


async def _redelivered_on_its_last_attempt(prefix: str, job: SendJob) -> None:
    """Queue ``job`` and let a "worker" take it and die: it is back, flagged redelivered."""
    publisher = await AmqpSendQueue.connect(AMQP_URL, _options(prefix))
    try:
        await publisher.publish(job)
    finally:
        await publisher.aclose()
    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(Topology(prefix=prefix).send_queue, durable=True)
        taken = await queue.get(no_ack=False, timeout=5)
        assert not taken.redelivered
    # closed without an ack: the broker puts it back


async def _worker_settles(
    prefix: str, pool: CredentialPool, jobs: SqlJobStore
) -> tuple[QueueDepth, list[bool | str], list[str]]:
    """Consume as `lark-service worker` does until the copy is settled; the queue's depth then,
    what ``is_done`` answered (or raised) and which jobs ``mark_dead`` was told of."""
    queue = await AmqpSendQueue.connect(AMQP_URL, _options(prefix))
    sending = SendingService(
        messaging=MessagingClient(pool), jobs=jobs, queue=queue, clock=ManualClock()
    )
    answers: list[bool | str] = []
    told: list[str] = []

    async def is_done(job: SendJob) -> bool:
        try:
            answer = await sending.is_done(job)
        except BaseException as exc:  # noted, then to the queue as it came
            answers.append(type(exc).__name__)
            raise
        answers.append(answer)
        return answer

    async def mark_dead(job: SendJob, reason: str) -> JobRecord:
        told.append(job.job_id)
        return await sending.mark_dead(job, reason)

    async def handle_job(job: SendJob) -> JobOutcome:
        raise AssertionError("a redelivered copy on its last attempt reaches no handler")

    try:
        await queue.consume(handle_job, on_dead=mark_dead, is_done=is_done)
        await eventually(lambda: bool(answers) and (answers[0] is True or bool(told)))
    finally:
        await queue.aclose()  # waits for the delivery being settled
    observer = await AmqpSendQueue.connect(AMQP_URL, _options(prefix))
    try:
        return await observer.depth(), answers, told
    finally:
        await observer.aclose()


async def test_a_redelivered_copy_of_a_sent_job_is_not_dead_lettered(
    prefix: str, pg_url: str, pool: CredentialPool
) -> None:
    db = await SqlDatabase.open(pg_url, secret_key=generate_key())
    try:
        jobs = SqlJobStore(db)
        job = make_job(1, attempt=POLICY.max_attempts - 1)  # the copy of the last retry
        await jobs.save_job(sent_record(job))  # the other copy was sent
        await _redelivered_on_its_last_attempt(prefix, job)
        depth, answers, told = await _worker_settles(prefix, pool, jobs)
        assert answers == [True]
        assert told == []
        assert depth == QueueDepth(ready=0, dead=0)  # acknowledged, nothing dead-lettered
        assert await jobs.get_job(job.job_id) == sent_record(job)
    finally:
        await db.aclose()


@pytest.mark.parametrize("mode", ["reset", "drop"])
async def test_a_redelivered_copy_is_dead_lettered_when_its_record_cannot_be_read(
    mode: Mode, prefix: str, pg_url: str, proxy: TcpProxy, pool: CredentialPool
) -> None:
    key = generate_key()
    direct = await SqlDatabase.open(pg_url, secret_key=key)
    proxied = await SqlDatabase.open(via(proxy, pg_url), secret_key=key)
    try:
        job = make_job(2, attempt=POLICY.max_attempts - 1)
        await SqlJobStore(direct).save_job(sent_record(job))
        await _redelivered_on_its_last_attempt(prefix, job)
        proxy.set_mode(mode)  # the store is down: refused at once, or silent until a deadline
        depth, answers, told = await _worker_settles(prefix, pool, SqlJobStore(proxied))
        # "reset": the store's error; "drop": cut by the queue's deadline
        assert answers == (["StoreError"] if mode == "reset" else ["CancelledError"])
        assert told == [job.job_id]
        assert depth == QueueDepth(ready=0, dead=1)  # never lost: dead-lettered
        admin = await AmqpSendQueue.connect(AMQP_URL, _options(prefix))
        try:
            (entry,) = await admin.dead_letter_entries()
        finally:
            await admin.aclose()
        assert entry.job == msgspec.structs.replace(job, attempt=POLICY.max_attempts)
        assert "without an outcome" in entry.last_error
        proxy.set_mode("pass")
        assert await SqlJobStore(direct).get_job(job.job_id) == sent_record(job)  # left "sent"
    finally:
        proxy.set_mode("pass")
        await proxied.aclose()
        await direct.aclose()
