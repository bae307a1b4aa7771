from __future__ import annotations

from lark_service.domain.jobs import JobRecord, JobStatus
from lark_service.domain.ports.send_queue import JobStore


class InMemoryJobStore(JobStore):
    """Job records in a dict (lost at exit: the embedded default and tests)."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobRecord] = {}

    async def save_job(self, record: JobRecord) -> None:
        self._jobs[record.job_id] = record

    async def replace_job(self, record: JobRecord, *, expected: JobRecord | None) -> bool:
        # atomic: no await between the check and the set
        if self._jobs.get(record.job_id) != expected:
            return False
        self._jobs[record.job_id] = record
        return True

    async def get_job(self, job_id: str) -> JobRecord | None:
        return self._jobs.get(job_id)

    async def list_jobs(
        self, *, status: JobStatus | None = None, limit: int = 100
    ) -> list[JobRecord]:
        found = [r for r in self._jobs.values() if status is None or r.status == status]
        found.sort(key=lambda r: r.updated_at, reverse=True)
        return found[:limit]

    async def prune_jobs(self, before: float) -> int:
        old = [k for k, r in self._jobs.items() if r.updated_at < before]
        for job_id in old:
            del self._jobs[job_id]
        return len(old)
