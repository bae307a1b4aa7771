"""Enqueue when the broker refuses the job: nothing is left "queued" for ever, and the
caller's retry with the same uuid queues it (issue 9: nothing lost)."""

from __future__ import annotations

import pytest

from lark_service.adapters.memory.clock import ManualClock
from lark_service.adapters.memory.jobs import InMemoryJobStore
from lark_service.adapters.memory.send_queue import InMemorySendQueue
from lark_service.application import CredentialPool, MessagingClient
from lark_service.application.usecases.sending import SendCommand, SendingService
from lark_service.domain.errors import TransportError
from lark_service.domain.jobs import SendJob

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
