"""Send jobs at the edges: enqueue when the broker refuses the job (nothing is left "queued" for
ever, the caller's retry with the same uuid queues it) and a job delivered again after it
settled (a crash between the queue's re-publish and its ack): neither lost nor done twice, nor
dead-lettered by the queue on its own when its record says it was sent."""

from __future__ import annotations

import msgspec
import pytest

from lark_service.adapters.memory.clock import ManualClock
from lark_service.adapters.memory.jobs import InMemoryJobStore
from lark_service.adapters.memory.send_queue import InMemorySendQueue
from lark_service.application import CredentialPool, MessagingClient
from lark_service.application.usecases.sending import SendCommand, SendingService
from lark_service.domain.errors import StoreError, TransportError
from lark_service.domain.jobs import JobOutcome, JobRecord, JobStatus, SendJob
from lark_service.entrypoints.http.wiring import open_services
from lark_service.testing.fake_lark import FakeLark

pytestmark = pytest.mark.anyio


class BrokerDownOnce(InMemorySendQueue):
    """The in-memory queue, whose first publish fails as a cut broker connection does."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals = 1

    async def publish(self, job: SendJob) -> None:
        if self.refusals:
            self.refusals -= 1
            raise TransportError("the broker connection was lost")
        await super().publish(job)


async def test_a_failed_publish_is_recorded_and_the_retry_queues_the_job(
    pool: CredentialPool,
) -> None:
    jobs, queue = InMemoryJobStore(), BrokerDownOnce()
    sending = SendingService(
        messaging=MessagingClient(pool), jobs=jobs, queue=queue, clock=ManualClock()
    )
    cmd = SendCommand(
        receive_id="oc_chat1", msg_type="text", content={"text": "hi"}, uuid="job-once-1"
    )
    with pytest.raises(TransportError):
        await sending.enqueue(cmd)
    record = await jobs.get_job("job-once-1")
    assert record is not None and record.status == "failed" and record.attempts == 0
    assert (record.error_msg or "").startswith("not queued")
    assert (await queue.depth()).ready == 0  # nothing was queued
    again = await sending.enqueue(cmd)  # the caller's retry, same uuid
    assert again.status == "queued"
    assert (await queue.depth()).ready == 1  # queued once, no consumer here
    await queue.aclose()


def _job(job_id: str, chat: str = "oc_chat1") -> SendJob:
    return SendJob(
        job_id=job_id,
        app_id="cli_app0",
        receive_id=chat,
        receive_id_type="chat_id",
        msg_type="text",
        content='{"text":"hi"}',
    )


def _sends(fake: FakeLark) -> int:
    return sum(1 for m in fake.messages if m.get("uuid"))


async def test_a_copy_of_a_sent_job_is_acknowledged_without_a_second_send(
    pool: CredentialPool, fake: FakeLark
) -> None:
    sending = SendingService(
        messaging=MessagingClient(pool),
        jobs=InMemoryJobStore(),
        queue=InMemorySendQueue(),
        clock=ManualClock(),
    )
    first = _job("job-twice-1")
    assert await sending.handle_job(first) is JobOutcome.DONE
    sent = await sending.get_job("job-twice-1")
    assert sent.status == "sent" and _sends(fake) == 1
    # the copy the queue re-published before a crash, one attempt later
    assert await sending.handle_job(msgspec.structs.replace(first, attempt=1)) is JobOutcome.DONE
    assert _sends(fake) == 1
    assert await sending.get_job("job-twice-1") == sent  # the record is left as it was
    await sending.queue.aclose()


async def test_a_copy_of_a_dead_job_does_not_become_a_second_dead_letter(
    pool: CredentialPool, fake: FakeLark
) -> None:
    jobs = InMemoryJobStore()
    sending = SendingService(
        messaging=MessagingClient(pool),
        jobs=jobs,
        queue=InMemorySendQueue(),
        clock=ManualClock(),
        max_attempts=1,
    )
    fake.inject_fault("5xx", path_prefix="/open-apis/im/", count=1000)
    doomed = _job("job-dead-1")
    assert await sending.handle_job(doomed) is JobOutcome.DEAD
    record = await jobs.get_job("job-dead-1")
    # "dead" waits for the dead letter: the queue tells mark_dead once the broker has it
    assert record is not None and record.status == "queued" and record.error_code == 1000
    doomed = msgspec.structs.replace(doomed, attempt=1)  # the copy re-published before a crash
    record = await sending.mark_dead(doomed, "the handler declared the job dead")
    assert record.status == "dead" and record.error_msg == "ServerError: internal error"
    # the lagging copy: acknowledged (DONE), not dead-lettered again and not sent
    assert await sending.handle_job(doomed) is JobOutcome.DONE
    assert _sends(fake) == 0
    fake.clear_faults()
    # a replayed job is "queued" again before it moves, so its delivery is sent
    await jobs.save_job(msgspec.structs.replace(record, status="queued"))
    assert await sending.handle_job(msgspec.structs.replace(doomed, attempt=0)) is JobOutcome.DONE
    assert (await jobs.get_job("job-dead-1")).status == "sent"  # type: ignore[union-attr]
    await sending.queue.aclose()


class StoreDownFor(InMemoryJobStore):
    """Job records in memory whose next ``reads`` reads fail as a store that is down does."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_job(self, job_id: str) -> JobRecord | None:
        if self.reads:
            self.reads -= 1
            raise StoreError("the job store is down")
        return await super().get_job(job_id)


async def _no_wait(seconds: float) -> None:
    return None


async def _sent_then_copy_on_last_attempt(
    pool: CredentialPool, fake: FakeLark, jobs: StoreDownFor, failed_reads: int
) -> tuple[JobRecord, list[SendJob]]:
    """A job sent, then its copy (re-published before a crash) delivered on its last attempt
    while the store fails ``failed_reads`` reads; the wiring of `serve`'s in-process queue."""
    async with open_services(pool, jobs=jobs, max_attempts=2, sleep=_no_wait) as services:
        queue = services.sending.queue
        assert isinstance(queue, InMemorySendQueue)
        first = _job("job-copy-1")
        await queue.publish(first)
        await queue.join(within=5)
        sent = await services.sending.get_job(first.job_id)
        assert sent.status == "sent" and _sends(fake) == 1
        jobs.reads = failed_reads  # the handler's read of the record fails: it raises
        await queue.publish(msgspec.structs.replace(first, attempt=1))
        await queue.join(within=5)
        assert _sends(fake) == 1
        return sent, await queue.dead_letters()


async def test_a_copy_out_of_attempts_of_a_sent_job_is_not_dead_lettered(
    pool: CredentialPool, fake: FakeLark
) -> None:
    jobs = StoreDownFor()
    sent, dead = await _sent_then_copy_on_last_attempt(pool, fake, jobs, failed_reads=1)
    assert dead == []  # the queue asked the record (the store was back): sent, so acknowledged
    assert await jobs.get_job("job-copy-1") == sent


async def test_a_copy_out_of_attempts_is_dead_lettered_when_the_record_cannot_be_read(
    pool: CredentialPool, fake: FakeLark
) -> None:
    jobs = StoreDownFor()
    sent, dead = await _sent_then_copy_on_last_attempt(pool, fake, jobs, failed_reads=2)
    assert [j.job_id for j in dead] == ["job-copy-1"]  # never lose a job: dead-lettered
    assert await jobs.get_job("job-copy-1") == sent  # and mark_dead did not undo "sent"


@pytest.mark.parametrize(
    ("status", "error_msg", "done"),
    [
        ("sent", None, True),
        ("failed", "NotFoundError: no such chat", True),
        ("failed", "not queued: TransportError", False),  # its publish may have got through
        ("dead", "ServerError: 500", True),  # written once the dead letter exists
        ("queued", None, False),
    ],
)
async def test_is_done_and_mark_dead_follow_the_record(
    pool: CredentialPool, status: JobStatus, error_msg: str | None, done: bool
) -> None:
    jobs = InMemoryJobStore()
    sending = SendingService(
        messaging=MessagingClient(pool), jobs=jobs, queue=InMemorySendQueue(), clock=ManualClock()
    )
    job = _job("job-status-1")
    assert await sending.is_done(job) is False  # no record
    attempts = 0 if error_msg and error_msg.startswith("not queued") else 1
    record = JobRecord(
        job_id=job.job_id, app_id=job.app_id, status=status, attempts=attempts, error_msg=error_msg
    )
    await jobs.save_job(record)
    assert await sending.is_done(job) is done
    marked = await sending.mark_dead(job, "a delivery ended without an outcome")
    if done:
        assert marked == record  # kept as it is
    else:
        assert marked.status == "dead"
    assert await jobs.get_job(job.job_id) == marked
    await sending.queue.aclose()
