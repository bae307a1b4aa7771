"""`InMemorySendQueue`: the send queue inside one process (no broker configured, and tests).

Same contract as the RabbitMQ adapter: a job whose handler returns RETRY (or raises) is
delivered again after a backoff, with ``attempt`` counting up; after ``max_attempts``
deliveries, or when the handler returns DEAD, it moves to the dead letters; before it
dead-letters a job on its own (attempts used up) it asks ``is_done``, and a job already done
with (sent, failed for good, dead-lettered) is settled instead. Unlike RabbitMQ, jobs live in
memory and are lost when the process exits. ``sleep`` is injected so tests run the backoff
without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import msgspec

from lark_service.application.queue_hooks import job_done_already, tell_dead
from lark_service.domain.jobs import JobOutcome, QueueDepth, SendJob
from lark_service.domain.ports.send_queue import DeadHook, DoneCheck, JobHandler, SendQueue

log = logging.getLogger("lark_service.send_queue")

Sleep = Callable[[float], Awaitable[None]]


class InMemorySendQueue(SendQueue):
    """An asyncio queue with delayed retries and a dead-letter list."""

    def __init__(
        self,
        *,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        sleep: Sleep = asyncio.sleep,
        hook_timeout: float = 10.0,
    ) -> None:
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._hook_timeout = hook_timeout  # seconds for each call of `is_done` or `on_dead`
        self._on_dead: DeadHook | None = None
        self._is_done: DoneCheck | None = None
        self._ready: asyncio.Queue[SendJob] = asyncio.Queue()
        self._dead: dict[str, SendJob] = {}
        self._delayed = 0
        self._unsettled = 0  # published or redelivered, not yet done or dead
        self._settled = asyncio.Event()
        self._settled.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def backoff(self, attempt: int) -> float:
        """Seconds before redelivering a job whose attempt ``attempt`` failed."""
        return float(min(self.max_delay, self.base_delay * 2**attempt))

    async def publish(self, job: SendJob) -> None:
        if self._closed:
            raise RuntimeError("the send queue is closed")
        self._unsettled += 1
        self._settled.clear()
        self._ready.put_nowait(job)

    async def consume(
        self,
        handler: JobHandler,
        *,
        prefetch: int = 16,
        on_dead: DeadHook | None = None,
        is_done: DoneCheck | None = None,
    ) -> None:
        self._on_dead = on_dead
        self._is_done = is_done
        for _ in range(prefetch):
            self._spawn(self._worker(handler))

    async def depth(self) -> QueueDepth:
        return QueueDepth(ready=self._ready.qsize() + self._delayed, dead=len(self._dead))

    async def dead_letters(self, *, limit: int = 100) -> list[SendJob]:
        return list(self._dead.values())[:limit]

    async def replay_dead(self, job_id: str | None = None) -> int:
        ids = list(self._dead) if job_id is None else [job_id] if job_id in self._dead else []
        for jid in ids:
            await self.publish(msgspec.structs.replace(self._dead.pop(jid), attempt=0))
        return len(ids)

    async def join(self, within: float = 10.0) -> None:
        """Wait until every published job is done or dead (`TimeoutError` after ``within`` s)."""
        async with asyncio.timeout(within):
            await self._settled.wait()

    async def aclose(self) -> None:
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- internals ------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _worker(self, handler: JobHandler) -> None:
        while True:
            job = await self._ready.get()
            try:
                outcome = await handler(job)
                reason = ""
            except Exception as exc:  # a failing handler must not stop the queue
                log.warning("send job %s: handler raised %s", job.job_id, type(exc).__name__)
                outcome, reason = JobOutcome.RETRY, f"handler raised {type(exc).__name__}"
            if outcome is JobOutcome.RETRY and job.attempt + 1 >= self.max_attempts:
                outcome, reason = await self._out_of_attempts(job, reason)
            if outcome is JobOutcome.RETRY:
                self._delayed += 1
                self._spawn(self._redeliver(job))
            elif outcome is JobOutcome.DEAD:
                self._dead[job.job_id] = job
                await tell_dead(self._on_dead, job, reason, within=self._hook_timeout)
                self._settle()
            else:
                self._settle()

    async def _out_of_attempts(self, job: SendJob, reason: str) -> tuple[JobOutcome, str]:
        if await job_done_already(self._is_done, job, within=self._hook_timeout):
            log.info("send job %s out of attempts but done: not dead-lettered", job.job_id)
            return JobOutcome.DONE, reason
        return JobOutcome.DEAD, reason or "too many attempts"

    async def _redeliver(self, job: SendJob) -> None:
        try:
            await self._sleep(self.backoff(job.attempt))
        finally:
            self._delayed -= 1
        self._ready.put_nowait(msgspec.structs.replace(job, attempt=job.attempt + 1))

    def _settle(self) -> None:
        self._unsettled -= 1
        if self._unsettled == 0:
            self._settled.set()
