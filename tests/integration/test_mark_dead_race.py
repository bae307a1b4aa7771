"""A job dead-lettered by the queue while another worker records it "sent", on SQLite and
PostgreSQL, through both SQL job stores: the record ends "sent" (the job was delivered), never
"dead". `JobStore.replace_job` is the compare-and-set that makes mark_dead's write safe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import pytest

from lark_service.adapters.memory.clock import ManualClock
from lark_service.adapters.memory.metrics import InMemoryMetrics
from lark_service.adapters.memory.send_queue import InMemorySendQueue
from lark_service.adapters.postgres import SqlDatabase
from lark_service.adapters.postgres.job_batches import GroupCommitJobStore
from lark_service.adapters.postgres.jobs import SqlJobStore
from lark_service.application import CredentialPool, MessagingClient
from lark_service.application.usecases.sending import SendingService
from lark_service.domain.jobs import JobRecord, SendJob
from lark_service.domain.ports.send_queue import JobStore
from tests.integration.conftest import SqlStores
from tests.job_store_support import SavedAfterRead, queued_record, sent_record

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

STORES: dict[str, Callable[[SqlDatabase], JobStore]] = {
    "single": SqlJobStore,
    "group_commit": GroupCommitJobStore,
}


def _job(n: int) -> SendJob:
    return SendJob(
        job_id=f"job-race-{n}",
        app_id="cli_app0",
        receive_id="oc_chat1",
        receive_id_type="chat_id",
        msg_type="text",
        content='{"text":"hi"}',
        attempt=4,
    )


@pytest.fixture(params=sorted(STORES))
def jobs(request: pytest.FixtureRequest, store: SqlStores) -> JobStore:
    return STORES[request.param](store.db)


@pytest.fixture
async def sending(pool: CredentialPool, jobs: JobStore) -> AsyncIterator[SendingService]:
    service = SendingService(
        messaging=MessagingClient(pool),
        jobs=jobs,
        queue=InMemorySendQueue(),
        clock=ManualClock(),
        metrics=InMemoryMetrics(),
    )
    yield service
    await service.queue.aclose()


def _dead_count(sending: SendingService) -> int:
    assert isinstance(sending.metrics, InMemoryMetrics)
    return sending.metrics.send_jobs[("cli_app0", "dead_lettered")]


async def test_replace_job_writes_only_over_the_expected_record(jobs: JobStore) -> None:
    job = _job(1)
    queued, sent = queued_record(job), sent_record(job)
    dead = msgspec.structs.replace(queued, status="dead", updated_at=3000.0)
    assert await jobs.replace_job(queued, expected=None) is True  # no record yet: inserted
    assert await jobs.replace_job(sent, expected=None) is False  # there is one now
    await jobs.save_job(sent)  # another worker's "sent", after mark_dead read "queued"
    assert await jobs.replace_job(dead, expected=queued) is False  # mark_dead's write
    assert await jobs.get_job(job.job_id) == sent
    # every column is compared, the NULL ones too
    for changed in ({"attempts": 4}, {"message_id": None}, {"error_code": 1}, {"log_id": "x"}):
        almost = msgspec.structs.replace(sent, **changed)
        assert await jobs.replace_job(dead, expected=almost) is False
    assert await jobs.get_job(job.job_id) == sent
    assert await jobs.replace_job(dead, expected=sent) is True
    assert await jobs.get_job(job.job_id) == dead
    assert await jobs.prune_jobs(before=5000.0) == 1
    assert await jobs.replace_job(dead, expected=queued) is False  # gone meanwhile
    assert await jobs.get_job(job.job_id) is None


async def test_a_sent_saved_between_mark_deads_read_and_write_stays_sent(
    jobs: JobStore, sending: SendingService
) -> None:
    job = _job(2)
    await jobs.save_job(queued_record(job))
    sending.jobs = SavedAfterRead(jobs, sent_record(job))  # another worker's "sent", after the read
    assert await sending.mark_dead(job, "attempts used up") == sent_record(job)
    assert await jobs.get_job(job.job_id) == sent_record(job)
    assert _dead_count(sending) == 0  # kept "sent": not counted as dead


async def test_many_mark_deads_racing_a_sent_always_end_sent(
    jobs: JobStore, sending: SendingService
) -> None:
    marks_per_job = 12
    for n in range(8):
        job = _job(100 + n)
        await jobs.save_job(queued_record(job))
        calls: list[Awaitable[JobRecord | None]] = [
            sending.mark_dead(job, "attempts used up") for _ in range(marks_per_job)
        ]
        position = n * marks_per_job // 7  # the "sent" first, among the marks, last
        calls.insert(position, jobs.save_job(sent_record(job)))
        results = await asyncio.gather(*calls)
        assert await jobs.get_job(job.job_id) == sent_record(job), f"the sent was call {position}"
        # each mark_dead returns what it left stored: "dead" before the sent, "sent" after it
        assert all(r is None or r.status in ("dead", "sent") for r in results)
    assert _dead_count(sending) <= 8  # at most one count a job
