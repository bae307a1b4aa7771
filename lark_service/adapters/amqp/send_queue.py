"""The `SendQueue` port on RabbitMQ: ``lark.send``, delayed retries, ``lark.send.dead``.

Delivery is at least once. A job is acknowledged only after its handler returned and, for a
retry or a dead letter, after the broker confirmed the job's new copy; a crash in between
redelivers the job, and the handler dedupes by ``job_id`` (it is Lark's ``uuid``).

``SendJob.attempt`` counts the deliveries that already failed: the handler sees ``0`` the first
time. After ``RetryPolicy.max_attempts`` failed deliveries the job goes to ``lark.send.dead`` with
``attempt`` set to that count and its last error in the ``x-last-error`` header. A delivery that
ended without an outcome (the worker died, the connection dropped, a shutdown handed back a
prefetched job) counts as a failed one: the redelivered job goes through the retry delay, so a job
that crashes every worker still ends in the dead-letter queue.

Before the queue dead-letters a job on its own (attempts used up, a redelivered copy included) it
asks the ``is_done`` hook: a crash between a re-publish (or a dead letter) and its ack leaves two
copies of a job, and a copy of a job already sent, failed for good or dead-lettered is
acknowledged, not dead-lettered (again). ``on_dead`` is told after every confirmed dead letter,
so a record saying "dead" means the dead letter exists. A hook that cannot answer within
``publish_timeout`` (store down) leaves the job dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import msgspec
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS

from lark_service.adapters.amqp.connection import (
    check_timeout,
    connect_and_declare,
)
from lark_service.adapters.amqp.dead_letters import (
    LAST_ERROR_HEADER,
    DeadLetter,
    DeadLetterAdmin,
    decode_job,
    encode_job,
)
from lark_service.adapters.amqp.publishing import persistent_message, publish_confirmed, settle
from lark_service.adapters.amqp.topology import RetryPolicy, Topology, delay_ms
from lark_service.application.queue_hooks import job_done_already, tell_dead
from lark_service.domain.errors import ConfigError, TransportError
from lark_service.domain.jobs import JobOutcome, QueueDepth, SendJob
from lark_service.domain.ports.send_queue import DeadHook, DoneCheck, JobHandler, SendQueue

log = logging.getLogger("lark_service.amqp.send")

_MAX_ERROR_CHARS = 500
_NO_OUTCOME = "a delivery ended without an outcome (worker stopped or connection lost)"


class SendQueueOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How the send queue behaves; every wait has its deadline here (seconds)."""

    prefix: str = ""  # put before every queue name, to keep deployments or test runs apart
    retry: RetryPolicy = RetryPolicy()
    publish_timeout: float = 10.0  # a publish (confirm included) or a queue operation
    drain_timeout: float = 30.0  # at close, for the jobs being handled
    handler_timeout: float = 120.0  # one handler call; past it the job is retried

    def validate(self) -> SendQueueOptions:
        Topology(prefix=self.prefix).validate()
        self.retry.validate()
        check_timeout("publish_timeout", self.publish_timeout)
        check_timeout("drain_timeout", self.drain_timeout)
        check_timeout("handler_timeout", self.handler_timeout)
        return self


class AmqpSendQueue(SendQueue):
    """Send jobs on RabbitMQ. Build it with `AmqpSendQueue.connect` (or `open` on a connection).

    ``aclose`` stops consuming, waits up to ``drain_timeout`` seconds for the jobs being handled,
    cancels the rest and closes; jobs still unacknowledged are redelivered to another worker.
    A handler that runs longer than ``handler_timeout`` seconds is cancelled and its job retried.
    """

    def __init__(
        self,
        connection: AbstractRobustConnection,
        options: SendQueueOptions | None = None,
        *,
        owns_connection: bool = False,
    ) -> None:
        """Prefer `connect` or `open`, which also declare the queues."""
        self._connection = connection
        self._options = (options or SendQueueOptions()).validate()
        self._topology = Topology(prefix=self._options.prefix)
        self._retry = self._options.retry
        self._publish_timeout = self._options.publish_timeout
        self._drain_timeout = self._options.drain_timeout
        self._handler_timeout = self._options.handler_timeout
        self._owns_connection = owns_connection
        self._publish_channel: AbstractRobustChannel | None = None
        self._consumers: list[tuple[AbstractRobustChannel, AbstractQueue, str]] = []
        self._in_flight: set[asyncio.Task[object]] = set()
        self._closing = False
        self._on_dead: DeadHook | None = None  # set by `consume`
        self._is_done: DoneCheck | None = None  # set by `consume`

    @classmethod
    async def connect(
        cls,
        url: str,
        options: SendQueueOptions | None = None,
        *,
        connect_timeout: float = 10.0,
    ) -> AmqpSendQueue:
        """Connect to ``url`` (``LARK_SERVICE_AMQP_URL``) and declare the queues.

        The URL and the options are checked (`ConfigError`) before the connection is attempted.
        """
        options = (options or SendQueueOptions()).validate()
        return await connect_and_declare(
            url, connect_timeout, lambda connection: cls(connection, options, owns_connection=True)
        )

    @classmethod
    async def open(
        cls, connection: AbstractRobustConnection, options: SendQueueOptions | None = None
    ) -> AmqpSendQueue:
        """Use a connection shared with other adapters; ``aclose`` leaves it open."""
        self = cls(connection, options)
        await self.declare()
        return self

    async def declare(self) -> None:
        """Declare this adapter's exchanges and queues (idempotent)."""
        topology = self._topology
        try:
            async with asyncio.timeout(self._publish_timeout):
                # on_return_raises: a job the broker cannot route (queue deleted) is an error.
                channel = await self._connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
                await channel.declare_queue(topology.send_queue, durable=True)
                await channel.declare_queue(topology.dead_queue, durable=True)
                for delay in sorted(set(self._retry.delays)):
                    await channel.declare_queue(
                        topology.retry_queue(delay),
                        durable=True,
                        arguments={
                            "x-message-ttl": delay_ms(delay),
                            "x-dead-letter-exchange": "",
                            "x-dead-letter-routing-key": topology.send_queue,
                        },
                    )
        except TimeoutError as exc:
            raise TransportError("declaring the send queues timed out") from exc
        self._publish_channel = channel

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up now (for readiness checks)."""
        return (
            not self._connection.is_closed
            and self._publish_channel is not None
            and (not self._publish_channel.is_closed)
        )

    @property
    def topology(self) -> Topology:
        return self._topology

    # -- publishing -----------------------------------------------------------------------

    async def publish(self, job: SendJob) -> None:
        if self._closing:
            raise TransportError("the send queue is closed")
        await self._put(self._topology.send_queue, job)

    async def _put(self, queue: str, job: SendJob, last_error: str | None = None) -> None:
        channel = self._channel()
        headers: dict[str, str | int] = {"x-attempt": job.attempt}
        if job.traceparent:
            headers["traceparent"] = job.traceparent
        if last_error is not None:
            headers[LAST_ERROR_HEADER] = last_error
        message = persistent_message(encode_job(job), headers=headers, message_id=job.job_id)
        await publish_confirmed(
            channel,
            channel.default_exchange,
            queue,
            message,
            within=self._publish_timeout,
            mandatory=True,
        )

    def _channel(self) -> AbstractRobustChannel:
        # Still open while closing: jobs finishing during the drain publish their retries.
        if self._publish_channel is None:
            raise TransportError("the send queue is closed")
        return self._publish_channel

    # -- consuming ------------------------------------------------------------------------

    async def consume(
        self,
        handler: JobHandler,
        *,
        prefetch: int = 16,
        on_dead: DeadHook | None = None,
        is_done: DoneCheck | None = None,
    ) -> None:
        if not 1 <= prefetch <= 65_535:
            raise ConfigError("prefetch must be between 1 and 65535")
        if self._closing:
            raise TransportError("the send queue is closed")
        # `is_done` is asked before this queue dead-letters a job on its own (a copy of a job
        # done with is acknowledged); `on_dead` is told after every confirmed dead letter, so
        # the job's record says "dead" only once the dead letter exists
        self._on_dead = on_dead
        self._is_done = is_done

        async def on_message(message: AbstractIncomingMessage) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._in_flight.add(task)
            try:
                await self._deliver(message, handler)
            finally:
                if task is not None:
                    self._in_flight.discard(task)

        try:
            async with asyncio.timeout(self._publish_timeout):
                channel = await self._connection.channel()
                await channel.set_qos(prefetch_count=prefetch)
                queue = await channel.declare_queue(self._topology.send_queue, durable=True)
                tag = await queue.consume(on_message, no_ack=False)
        except TimeoutError as exc:
            raise TransportError("starting to consume the send queue timed out") from exc
        self._consumers.append((channel, queue, tag))

    async def _deliver(self, message: AbstractIncomingMessage, handler: JobHandler) -> None:
        if self._closing:
            # Prefetched but not started: hand it back for another worker.
            await settle(message.nack(requeue=True))
            return
        try:
            job = decode_job(message.body)
        except msgspec.DecodeError as exc:
            log.error("undecodable send job %s moved to the dead queue", message.message_id)
            await self._dead_raw(message, f"undecodable job: {exc}")
            return
        if message.redelivered:
            # The last delivery ended without an outcome: a worker crash, a lost connection or a
            # shutdown. Counting it as a failed attempt (through a fresh copy, since a delivery
            # cannot be changed) bounds a job that kills every worker it reaches.
            await self._settle_after(message, job, JobOutcome.RETRY, _NO_OUTCOME)
            return
        try:
            async with asyncio.timeout(self._handler_timeout):
                outcome = await handler(job)
            error = "the handler asked for a retry"
        except Exception as exc:
            log.warning("send job %s failed: %s", job.job_id, type(exc).__name__, exc_info=True)
            outcome, error = JobOutcome.RETRY, _describe(exc)
        await self._settle_after(message, job, outcome, error)

    async def _settle_after(
        self, message: AbstractIncomingMessage, job: SendJob, outcome: JobOutcome, error: str
    ) -> None:
        try:
            if outcome is JobOutcome.RETRY:
                await self._retry_later(job, error)
            elif outcome is JobOutcome.DEAD:
                await self._dead_letter(
                    msgspec.structs.replace(job, attempt=job.attempt + 1),
                    "the handler declared the job dead",
                )
        except TransportError:
            # Not acknowledged: the broker redelivers the job once the channel is back.
            log.warning("could not re-queue send job %s; it will be redelivered", job.job_id)
            await settle(message.nack(requeue=True))
            return
        await settle(message.ack())

    async def _retry_later(self, job: SendJob, error: str) -> None:
        failed = msgspec.structs.replace(job, attempt=job.attempt + 1)
        if failed.attempt >= self._retry.max_attempts:
            if await job_done_already(self._is_done, failed, within=self._publish_timeout):
                log.info("send job %s out of attempts but done: not dead-lettered", job.job_id)
                return
            log.warning("send job %s dead after %d attempts", job.job_id, failed.attempt)
            await self._dead_letter(failed, error)
        else:
            delay = self._retry.delay_after(failed.attempt)
            await self._put(self._topology.retry_queue(delay), failed)

    async def _dead_letter(self, failed: SendJob, reason: str) -> None:
        await self._put(self._topology.dead_queue, failed, reason)
        # told once the dead letter exists: a record saying "dead" means it does
        await tell_dead(self._on_dead, failed, reason, within=self._publish_timeout)

    async def _dead_raw(self, message: AbstractIncomingMessage, error: str) -> None:
        channel = self._channel()
        dead = persistent_message(
            message.body, headers={LAST_ERROR_HEADER: error[:_MAX_ERROR_CHARS]}
        )
        try:
            await publish_confirmed(
                channel,
                channel.default_exchange,
                self._topology.dead_queue,
                dead,
                within=self._publish_timeout,
                mandatory=True,
            )
        except TransportError:
            await settle(message.nack(requeue=True))
            return
        await settle(message.ack())

    # -- depth and the dead-letter queue (on channels of their own) ------------------------

    async def depth(self) -> QueueDepth:
        async with self._admin() as admin:
            return await admin.depth()

    async def dead_letters(self, *, limit: int = 100) -> list[SendJob]:
        return [entry.job for entry in await self.dead_letter_entries(limit=limit)]

    async def dead_letter_entries(self, *, limit: int = 100) -> list[DeadLetter]:
        """Up to ``limit`` dead jobs with their last error, oldest first; they stay queued."""
        if not 1 <= limit <= 10_000:
            raise ConfigError("limit must be between 1 and 10000")
        async with self._admin() as admin:
            return await admin.peek_dead(limit)

    async def replay_dead(self, job_id: str | None = None) -> int:
        """Move dead jobs back to ``lark.send`` with a fresh attempt count."""
        if self._closing:
            raise TransportError("the send queue is closed")
        async with self._admin() as admin:
            return await admin.replay_dead(job_id, self.publish)

    @contextlib.asynccontextmanager
    async def _admin(self) -> AsyncIterator[DeadLetterAdmin]:
        self._channel()
        async with DeadLetterAdmin.open(
            self._connection, self._topology, op_timeout=self._publish_timeout
        ) as admin:
            yield admin

    # -- closing --------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._closing:
            return
        self._closing = True
        for _channel, queue, tag in self._consumers:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS, TimeoutError):
                await queue.cancel(tag, timeout=self._publish_timeout)
        if self._in_flight:
            _done, pending = await asyncio.wait(set(self._in_flight), timeout=self._drain_timeout)
            if pending:
                log.warning(
                    "%d send jobs still running at close; they will be redelivered", len(pending)
                )
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending, timeout=1.0)
        for channel, _queue, _tag in self._consumers:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await channel.close()
        self._consumers.clear()
        if self._publish_channel is not None:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await self._publish_channel.close()
            self._publish_channel = None
        if self._owns_connection:
            await self._connection.close()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]
