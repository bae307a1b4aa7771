"""Sending messages: at once, or through the send queue as a job.

A job's id is also the ``uuid`` Lark deduplicates sends by (for about an hour), so a job
delivered twice (redelivered after a crash between the send and the acknowledgement) is one
message. `handle_job` sorts failures: Lark's transient ones (5xx, rate limits, the network)
are retried by the queue; every other typed error is permanent and recorded as ``failed``.

Tracing: `enqueue` runs in a ``producer`` span whose W3C ``traceparent`` travels with the job,
and `handle_job` continues it in a ``consumer`` span, so the request that queued a job, the
worker's handling and the Lark call are one trace.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from collections.abc import Callable
from typing import Any

import msgspec

from lark_service.application.clients.im_content import check_receiver, check_uuid, encode_content
from lark_service.application.clients.messaging import MessagingClient
from lark_service.domain.errors import (
    LarkServiceError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    StoreError,
    TransportError,
)
from lark_service.domain.jobs import JobOutcome, JobRecord, JobStatus, SendJob
from lark_service.domain.models.messaging import Message
from lark_service.domain.ports.clock import Clock
from lark_service.domain.ports.events import EventBus
from lark_service.domain.ports.metrics import Metrics, NullMetrics
from lark_service.domain.ports.send_queue import JobStore, SendQueue
from lark_service.domain.ports.tracing import AttributeValue, NullTracer, Span, Tracer

log = logging.getLogger("lark_service.sending")

TRANSIENT_ERRORS: tuple[type[LarkServiceError], ...] = (
    ServerError,
    TransportError,
    RateLimitedError,
)
DEFAULT_MAX_ATTEMPTS = 5
# span names: OpenTelemetry's messaging convention ("<operation> <destination>")
SEND_QUEUE_SPAN_PUBLISH = "publish lark.send"
SEND_QUEUE_SPAN_PROCESS = "process lark.send"


class SendCommand(msgspec.Struct, frozen=True, kw_only=True):
    """One message to send; ``content`` is Lark's JSON string or an object to encode."""

    receive_id: str
    msg_type: str
    content: str | dict[str, Any]
    receive_id_type: str = "chat_id"
    app_id: str | None = None
    uuid: str | None = None


class SendingService:
    """Send now, enqueue, handle a queued job, record a dead one, replay dead jobs."""

    def __init__(
        self,
        *,
        messaging: MessagingClient,
        jobs: JobStore,
        queue: SendQueue,
        clock: Clock,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        new_job_id: Callable[[], str] = lambda: str(uuid_module.uuid4()),
        bus: EventBus | None = None,
        metrics: Metrics | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.messaging = messaging
        self.metrics: Metrics = metrics if metrics is not None else NullMetrics()
        self.tracer: Tracer = tracer if tracer is not None else NullTracer()
        self.jobs = jobs
        self.queue = queue
        self.clock = clock
        self.max_attempts = max_attempts
        self._new_job_id = new_job_id
        # when given, each job's final result is published: <app_id>.message.sent / .failed
        self.bus = bus

    async def send(self, cmd: SendCommand) -> Message:
        """Send at once through `MessagingClient` (the 5-level app policy applies)."""
        return await self.messaging.send_message(
            cmd.receive_id,
            cmd.msg_type,
            cmd.content,
            receive_id_type=cmd.receive_id_type,
            app_id=cmd.app_id,
            uuid=cmd.uuid,
        )

    async def enqueue(self, cmd: SendCommand) -> JobRecord:
        """Check the command, bind it to an app, record it as queued and publish it.

        Everything that can be wrong with the command is raised here (`ConfigError`,
        `AppResolutionError`), before anything is queued. A command carrying ``uuid`` uses it
        as its job id: enqueuing it again returns the existing job instead of a second one.
        """
        check_receiver(cmd.receive_id, cmd.receive_id_type)
        content = encode_content(cmd.msg_type, cmd.content)
        app = self.messaging.resolve_app(cmd.app_id)
        if cmd.uuid is not None:
            job_id = check_uuid(cmd.uuid)
            existing = await self.jobs.get_job(job_id)
            # a job whose publish failed was never queued: enqueuing it again queues it
            if existing is not None and not _never_queued(existing):
                return existing
        else:
            job_id = self._new_job_id()
        now = self.clock.now()
        with self.tracer.span(
            SEND_QUEUE_SPAN_PUBLISH, _job_attributes(app.app_id, job_id), kind="producer"
        ):
            job = SendJob(
                job_id=job_id,
                app_id=app.app_id,
                receive_id=cmd.receive_id,
                receive_id_type=cmd.receive_id_type,
                msg_type=cmd.msg_type,
                content=content,
                enqueued_at=now,
                traceparent=self.tracer.inject(),
            )
            record = JobRecord(job_id=job_id, app_id=app.app_id, status="queued", updated_at=now)
            await self.jobs.save_job(record)  # first, so that a fast worker finds it
            try:
                await self.queue.publish(job)
            except BaseException as exc:
                # not left "queued" for ever: the caller's retry with the same uuid queues it
                failed = msgspec.structs.replace(
                    record, status="failed", error_msg=f"{NOT_QUEUED}: {type(exc).__name__}"
                )
                await self.jobs.save_job(failed)
                raise
        self.metrics.send_job(app_id=app.app_id, outcome="published")
        return record

    async def get_job(self, job_id: str) -> JobRecord:
        """The job's status; `NotFoundError` if no such job was queued."""
        record = await self.jobs.get_job(job_id)
        if record is None:
            raise NotFoundError(f"no job {job_id!r}", code=-1)
        return record

    async def handle_job(self, job: SendJob) -> JobOutcome:
        """Send one queued job (uuid = job id) and record the result.

        DONE when sent or failed for good; RETRY on a transient failure; on the last attempt
        a transient failure is recorded (still ``queued``, with its error) and the job is
        dead-lettered (DEAD): the queue then calls `mark_dead`, once the dead letter exists.
        The span continues the trace of the request that queued the job.

        A retry of a job whose record is already settled (sent, failed for good, dead) is
        acknowledged without a send: a crash or a cut connection between the queue's re-publish
        and its ack leaves two copies of a job, and the second must not be sent again nor end
        as a second dead letter. Such copies are retries (``attempt > 0``), so a first delivery
        costs no read.
        """
        settled = await self.jobs.get_job(job.job_id) if job.attempt else None
        if settled is not None and _settled(settled):
            log.info("job %s delivered again after it settled as %s", job.job_id, settled.status)
            return JobOutcome.DONE
        attributes = {**_job_attributes(job.app_id, job.job_id), "lark.attempt": job.attempt + 1}
        with self.tracer.span(
            SEND_QUEUE_SPAN_PROCESS, attributes, kind="consumer", parent=job.traceparent
        ) as span:
            outcome = await self._send_job(job, span)
            span.set_attribute("lark.job.outcome", outcome.value)
            return outcome

    async def _send_job(self, job: SendJob, span: Span) -> JobOutcome:
        attempts = job.attempt + 1
        try:
            message = await self.messaging.send_message(
                job.receive_id,
                job.msg_type,
                job.content,
                receive_id_type=job.receive_id_type,
                app_id=job.app_id,
                uuid=job.job_id,
            )
        except TRANSIENT_ERRORS as exc:
            span.record_error(exc)
            # "dead" is written by `mark_dead`, after the queue has the dead letter: a record
            # saying "dead" then means there is one (see `is_done`)
            await self._record_error(job, exc, "queued", attempts)
            return JobOutcome.DEAD if attempts >= self.max_attempts else JobOutcome.RETRY
        except LarkServiceError as exc:
            span.record_error(exc)
            await self._publish_result(await self._record_error(job, exc, "failed", attempts))
            return JobOutcome.DONE
        record = JobRecord(
            job_id=job.job_id,
            app_id=job.app_id,
            status="sent",
            attempts=attempts,
            message_id=message.message_id,
            updated_at=self.clock.now(),
        )
        await self.jobs.save_job(record)
        await self._publish_result(record)
        return JobOutcome.DONE

    async def _publish_result(self, record: JobRecord) -> None:
        """``<app_id>.message.sent`` or ``.failed`` (failed or dead) with the job's record.

        The record in the job store is the truth: a publish that fails is logged, and the job
        is not retried for it (that would send nothing new and could publish twice)."""
        if record.status == "sent":
            self.metrics.send_job(app_id=record.app_id, outcome="sent")
        elif record.status == "failed":
            self.metrics.send_job(app_id=record.app_id, outcome="failed")
        else:
            self.metrics.send_job(app_id=record.app_id, outcome="dead_lettered")
        if self.bus is None:
            return
        topic = f"{record.app_id}.message.{'sent' if record.status == 'sent' else 'failed'}"
        try:
            await self.bus.publish(topic, msgspec.json.encode(record))
        except Exception as exc:
            log.warning("publishing %s of job %s failed: %s", topic, record.job_id, exc)

    async def is_done(self, job: SendJob) -> bool:
        """Whether ``job``'s record says it is done with: sent, failed for good at Lark, or
        dead-lettered.

        The queue asks before it dead-letters a job on its own, so that a copy left by a crash
        between a re-publish (or a dead letter) and its ack is acknowledged instead. "dead" is
        done because it is only written once the dead letter exists (`mark_dead`, called by
        the queue after the broker confirmed it); a crash between the two leaves the record
        short of "dead", and the copy is dead-lettered (a second dead letter is the safe side,
        a lost job is not). A store error propagates: the queue then dead-letters the job."""
        record = await self.jobs.get_job(job.job_id)
        return record is not None and _settled(record)

    async def mark_dead(self, job: SendJob, reason: str = "") -> JobRecord:
        """Record that the queue dead-lettered ``job``, keeping its last Lark error; returns the
        record stored afterwards.

        A record already done with (sent, failed for good, dead) is kept as it is: the dead
        letter is a copy of a job whose outcome is known (its record could not be read in
        time, or a crash came between a dead letter and its record). The
        write is a compare-and-set against the record read (`JobStore.replace_job`), so a
        "sent" saved by another worker in between is kept too, and not counted as dead."""
        previous = await self.jobs.get_job(job.job_id)
        for _ in range(MARK_DEAD_TRIES):
            # a "dead" stands: its writer recorded (and counted) the dead letter already
            if previous is not None and _settled(previous):
                log.info("job %s dead-lettered after it settled as %s", job.job_id, previous.status)
                return previous
            record = _dead_record(job, reason, previous, self.clock.now())
            if await self.jobs.replace_job(record, expected=previous):
                await self._publish_result(record)  # counted, and `.message.failed`
                return record
            previous = await self.jobs.get_job(job.job_id)  # saved meanwhile: decide again
        raise StoreError(
            f"the record of job {job.job_id!r} changed {MARK_DEAD_TRIES} times while it was"
            " being marked dead"
        )

    async def replay_dead(self, job_id: str | None = None) -> int:
        """Move one dead job (or all) back to the queue; their records become ``queued``."""
        dead = await self.queue.dead_letters(limit=10_000)
        replayed = [j for j in dead if job_id in (None, j.job_id)]
        now = self.clock.now()
        # "queued" before the jobs move: a worker drops a delivery whose record is settled
        for job in replayed:
            await self.jobs.save_job(
                JobRecord(job_id=job.job_id, app_id=job.app_id, status="queued", updated_at=now)
            )
        return await self.queue.replay_dead(job_id)

    async def _record_error(
        self, job: SendJob, exc: LarkServiceError, status: JobStatus, attempts: int
    ) -> JobRecord:
        log.info("job %s attempt %d: %s", job.job_id, attempts, type(exc).__name__)
        record = JobRecord(
            job_id=job.job_id,
            app_id=job.app_id,
            status=status,
            attempts=attempts,
            error_code=exc.code,
            error_msg=f"{type(exc).__name__}: {exc.msg}",
            log_id=exc.log_id or None,
            updated_at=self.clock.now(),
        )
        await self.jobs.save_job(record)
        return record


NOT_QUEUED = "not queued"
# compare-and-set rounds of mark_dead: a lost round goes on only when the record saved between
# its read and its write is neither done nor dead (queued again), so a few suffice
MARK_DEAD_TRIES = 3


def _dead_record(job: SendJob, reason: str, previous: JobRecord | None, now: float) -> JobRecord:
    """``job`` dead-lettered, with the attempts and last Lark error of its ``previous`` record."""
    return JobRecord(
        job_id=job.job_id,
        app_id=job.app_id,
        status="dead",
        attempts=max(job.attempt + 1, previous.attempts if previous else 0),
        error_code=previous.error_code if previous else None,
        error_msg=(previous.error_msg if previous else None) or reason or None,
        log_id=previous.log_id if previous else None,
        updated_at=now,
    )


def _never_queued(record: JobRecord) -> bool:
    """A record whose publish failed: no attempt made, nothing at Lark or in the queue."""
    return (
        record.status == "failed"
        and record.attempts == 0
        and (record.error_msg or "").startswith(NOT_QUEUED)
    )


def _settled(record: JobRecord) -> bool:
    """Whether the job is done with (`_done`) or dead-lettered."""
    return record.status == "dead" or _done(record)


def _done(record: JobRecord) -> bool:
    """Whether the job's outcome at Lark is known: sent, or failed for good."""
    if record.status == "failed":
        return not _never_queued(record)  # its publish may have reached the broker after all
    return record.status == "sent"


def _job_attributes(app_id: str, job_id: str) -> dict[str, AttributeValue]:
    # the job id is a random uuid of ours (no user data); it finds the job's record
    return {"lark.app_id": app_id, "messaging.message.id": job_id}
