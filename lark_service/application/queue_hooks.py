"""How every send queue calls its dead-letter hooks (`DoneCheck` before it dead-letters a job
on its own, `DeadHook` after): under the queue's deadline, and a failing or late hook never
stops the queue. Written once for the RabbitMQ and the in-memory queue.
"""

from __future__ import annotations

import asyncio
import logging

from lark_service.domain.jobs import SendJob
from lark_service.domain.ports.send_queue import DeadHook, DoneCheck

log = logging.getLogger("lark_service.send_queue")


async def job_done_already(is_done: DoneCheck | None, job: SendJob, *, within: float) -> bool:
    """``is_done(job)`` within ``within`` seconds; ``False`` without the hook or an answer."""
    if is_done is None:
        return False
    try:
        async with asyncio.timeout(within):
            return await is_done(job)
    except Exception as exc:  # dead-lettered then: a duplicate dead letter is the safe side
        log.warning("reading the record of job %s failed: %s", job.job_id, type(exc).__name__)
        return False


async def tell_dead(on_dead: DeadHook | None, job: SendJob, reason: str, *, within: float) -> None:
    """``on_dead(job, reason)`` within ``within`` seconds; a failure is logged."""
    if on_dead is None:
        return
    try:
        async with asyncio.timeout(within):
            await on_dead(job, reason)
    except Exception as exc:  # the job is safely dead-lettered; only its record lags
        log.warning("recording dead job %s failed: %s", job.job_id, type(exc).__name__)
