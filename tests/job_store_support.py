"""Job records and a job store where another worker writes between a read and a write:
shared by the unit and integration tests of the send queue's records (`mark_dead`,
`is_done`)."""

from __future__ import annotations

from typing import Any

import msgspec

from lark_service.domain.jobs import JobRecord, JobStatus, SendJob
from lark_service.domain.ports.send_queue import JobStore


def queued_record(job: SendJob, **changes: Any) -> JobRecord:
    """``job`` queued again after a transient Lark failure (a 500)."""
    record = JobRecord(
        job_id=job.job_id,
        app_id=job.app_id,
        status="queued",
        attempts=4,
        error_code=500,
        error_msg="ServerError: 500",
        log_id="log-1",
        updated_at=1000.25,
    )
    return msgspec.structs.replace(record, **changes)


def sent_record(job: SendJob, **changes: Any) -> JobRecord:
    """``job`` sent (Lark's message ``om_sent``)."""
    record = JobRecord(
        job_id=job.job_id,
        app_id=job.app_id,
        status="sent",
        attempts=5,
        message_id="om_sent",
        updated_at=2000.5,
    )
    return msgspec.structs.replace(record, **changes)


class SavedAfterRead(JobStore):
    """``jobs``, where another worker saves the next of ``meanwhile`` right after each read:
    the record a reader decides on is no longer the stored one when it writes."""

    def __init__(self, jobs: JobStore, *meanwhile: JobRecord) -> None:
        self.jobs = jobs
        self.meanwhile = list(meanwhile)

    async def get_job(self, job_id: str) -> JobRecord | None:
        found = await self.jobs.get_job(job_id)
        if self.meanwhile:
            await self.jobs.save_job(self.meanwhile.pop(0))
        return found

    async def save_job(self, record: JobRecord) -> None:
        await self.jobs.save_job(record)

    async def replace_job(self, record: JobRecord, *, expected: JobRecord | None) -> bool:
        return await self.jobs.replace_job(record, expected=expected)

    async def list_jobs(
        self, *, status: JobStatus | None = None, limit: int = 100
    ) -> list[JobRecord]:
        return await self.jobs.list_jobs(status=status, limit=limit)

    async def prune_jobs(self, before: float) -> int:
        return await self.jobs.prune_jobs(before)
