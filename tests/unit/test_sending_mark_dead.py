"""`SendingService.mark_dead` against a record saved meanwhile by another worker: a "sent" saved
between mark_dead's read and its write stays "sent" (the job was delivered) and is not counted
as dead; a "dead" saved meanwhile stands; a "queued" saved meanwhile is marked dead from that
record, and a record that keeps changing ends in a `StoreError` (the queue's hook logs it)."""

from __future__ import annotations

import msgspec
import pytest

from lark_service.adapters.memory.clock import ManualClock
from lark_service.adapters.memory.jobs import InMemoryJobStore
from lark_service.adapters.memory.metrics import InMemoryMetrics
from lark_service.adapters.memory.send_queue import InMemorySendQueue
from lark_service.application import CredentialPool, MessagingClient
from lark_service.application.usecases.sending import MARK_DEAD_TRIES, SendingService
from lark_service.domain.errors import StoreError
from lark_service.domain.jobs import SendJob
from lark_service.domain.ports.send_queue import JobStore
from tests.job_store_support import SavedAfterRead, queued_record, sent_record

pytestmark = pytest.mark.anyio

JOB = SendJob(
    job_id="job-race-1",
    app_id="cli_app0",
    receive_id="oc_chat1",
    receive_id_type="chat_id",
    msg_type="text",
    content='{"text":"hi"}',
    attempt=4,
)
QUEUED = queued_record(JOB, log_id=None, updated_at=1.0)
SENT = sent_record(JOB, updated_at=2.0)


def _sending(pool: CredentialPool, jobs: JobStore) -> tuple[SendingService, InMemoryMetrics]:
    metrics = InMemoryMetrics()
    sending = SendingService(
        messaging=MessagingClient(pool),
        jobs=jobs,
        queue=InMemorySendQueue(),
        clock=ManualClock(),
        metrics=metrics,
    )
    return sending, metrics


async def test_a_sent_saved_between_the_read_and_the_write_stays_sent(
    pool: CredentialPool,
) -> None:
    jobs = SavedAfterRead(InMemoryJobStore(), SENT)
    await jobs.save_job(QUEUED)  # what mark_dead reads
    sending, metrics = _sending(pool, jobs)
    marked = await sending.mark_dead(JOB, "attempts used up")
    assert marked == SENT
    assert await jobs.get_job(JOB.job_id) == SENT
    assert metrics.send_jobs[(JOB.app_id, "dead_lettered")] == 0
    await sending.queue.aclose()


async def test_a_sent_saved_before_a_first_record_stays_sent(pool: CredentialPool) -> None:
    jobs = SavedAfterRead(InMemoryJobStore(), SENT)  # no record when mark_dead reads
    sending, metrics = _sending(pool, jobs)
    assert await sending.mark_dead(JOB, "attempts used up") == SENT
    assert await jobs.get_job(JOB.job_id) == SENT
    assert metrics.send_jobs[(JOB.app_id, "dead_lettered")] == 0
    await sending.queue.aclose()


async def test_a_record_requeued_meanwhile_is_marked_dead_from_the_new_record(
    pool: CredentialPool,
) -> None:
    later = msgspec.structs.replace(
        QUEUED, attempts=7, error_code=429, error_msg="RateLimitedError: slow down"
    )
    jobs = SavedAfterRead(InMemoryJobStore(), later)
    await jobs.save_job(QUEUED)
    sending, metrics = _sending(pool, jobs)
    marked = await sending.mark_dead(JOB, "attempts used up")
    assert (marked.status, marked.attempts, marked.error_code) == ("dead", 7, 429)
    assert await jobs.get_job(JOB.job_id) == marked
    assert metrics.send_jobs[(JOB.app_id, "dead_lettered")] == 1
    await sending.queue.aclose()


async def test_a_dead_saved_meanwhile_stands_and_is_counted_by_its_writer_only(
    pool: CredentialPool,
) -> None:
    theirs = msgspec.structs.replace(QUEUED, status="dead", attempts=5, updated_at=3.0)
    jobs = SavedAfterRead(InMemoryJobStore(), theirs)
    await jobs.save_job(QUEUED)
    sending, metrics = _sending(pool, jobs)
    assert await sending.mark_dead(JOB, "attempts used up") == theirs
    assert await jobs.get_job(JOB.job_id) == theirs
    assert metrics.send_jobs[(JOB.app_id, "dead_lettered")] == 0
    await sending.queue.aclose()


async def test_a_record_that_keeps_changing_is_a_store_error_and_stays_as_saved(
    pool: CredentialPool,
) -> None:
    requeued = [msgspec.structs.replace(QUEUED, attempts=n) for n in range(5, 5 + MARK_DEAD_TRIES)]
    jobs = SavedAfterRead(InMemoryJobStore(), *requeued)
    await jobs.save_job(QUEUED)
    sending, metrics = _sending(pool, jobs)
    with pytest.raises(StoreError, match="job-race-1"):
        await sending.mark_dead(JOB, "attempts used up")
    assert await jobs.get_job(JOB.job_id) == requeued[-1]
    assert metrics.send_jobs[(JOB.app_id, "dead_lettered")] == 0
    await sending.queue.aclose()
