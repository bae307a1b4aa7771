"""The send queue's port (`SendQueue`), the job records' port (`JobStore`), and the two hooks a
queue calls when it dead-letters a job on its own (`DoneCheck` before, `DeadHook` after; every
queue calls them through `lark_service.application.queue_hooks`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from lark_service.domain.jobs import JobOutcome, JobRecord, JobStatus, QueueDepth, SendJob

JobHandler = Callable[[SendJob], Awaitable[JobOutcome]]
DeadHook = Callable[[SendJob, str], Awaitable[object]]
"""Told of each job the queue dead-letters, with the reason (`SendingService.mark_dead`)."""
DoneCheck = Callable[[SendJob], Awaitable[bool]]
"""Whether the job's record says it is done with: sent, or failed for good at Lark
(`SendingService.is_done`). Asked before the queue dead-letters a job on its own."""


class SendQueue(Protocol):
    """A durable queue of send jobs (RabbitMQ ``lark.send`` with ``lark.send.dead``).

    ``publish`` returns once the broker has taken the job (publisher confirm). A consumer's
    handler decides each job's fate (`JobOutcome`); a job whose handler raises is retried.
    Jobs are acknowledged only after the handler returns, so a crash redelivers them.
    """

    async def publish(self, job: SendJob) -> None: ...

    async def consume(
        self,
        handler: JobHandler,
        *,
        prefetch: int = 16,
        on_dead: DeadHook | None = None,
        is_done: DoneCheck | None = None,
    ) -> None:
        """Start delivering jobs to ``handler`` in the background; returns at once.

        ``on_dead`` is told of every job the queue dead-letters, once the dead letter exists
        (the handler answered DEAD, or attempts were used up, e.g. by worker crashes), so the
        job's record says "dead" only when there is a dead letter.

        ``is_done`` is asked before the queue dead-letters a job on its own: a crash between a
        re-publish (or a dead letter) and its ack leaves two copies of a job, and a copy whose
        job is already done (sent, failed for good, dead-lettered) is acknowledged instead.
        When it cannot answer (store down, deadline passed) the job is dead-lettered: a
        duplicate dead letter is safe, a lost job is not."""
        ...

    async def depth(self) -> QueueDepth: ...

    async def dead_letters(self, *, limit: int = 100) -> list[SendJob]: ...

    async def replay_dead(self, job_id: str | None = None) -> int:
        """Move one dead job (or all with ``None``) back to the queue; returns how many."""
        ...

    async def aclose(self) -> None: ...


class JobStore(Protocol):
    """Remembers each job's status for ``GET /v1/jobs/{job_id}``."""

    async def save_job(self, record: JobRecord) -> None:
        """Insert or replace the record."""
        ...

    async def replace_job(self, record: JobRecord, *, expected: JobRecord | None) -> bool:
        """Save ``record`` only if the stored record of its job is still ``expected`` (``None``:
        there is none), in one atomic step; whether it was saved.

        A compare-and-set: a writer that read a record and decided on it (`mark_dead`) does not
        undo a record another worker saved meanwhile (``sent``). Every field is compared."""
        ...

    async def get_job(self, job_id: str) -> JobRecord | None: ...

    async def list_jobs(
        self, *, status: JobStatus | None = None, limit: int = 100
    ) -> list[JobRecord]: ...

    async def prune_jobs(self, before: float) -> int:
        """Delete the records last updated before ``before`` (epoch seconds); how many."""
        ...
