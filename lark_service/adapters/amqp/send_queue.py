"""The `SendQueue` port on RabbitMQ: ``lark.send``, delayed retries, ``lark.send.dead``.

Delivery is at least once. A job is acknowledged only after its handler returned and, for a
retry or a dead letter, after the broker confirmed the job's new copy; a crash in between
redelivers the job, and the handler dedupes by ``job_id`` (it is Lark's ``uuid``).

``SendJob.attempt`` counts the deliveries that already failed: the handler sees ``0`` the first
time. After ``RetryPolicy.max_attempts`` failed deliveries the job goes to ``lark.send.dead`` with
``attempt`` set to that count and its last error in the ``x-last-error`` header.
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
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, ChannelNotFoundEntity

from lark_service.adapters.amqp.connection import check_timeout, open_connection
from lark_service.adapters.amqp.publishing import persistent_message, publish_confirmed, settle
from lark_service.adapters.amqp.topology import RetryPolicy, Topology, delay_ms
from lark_service.domain.errors import ConfigError, TransportError
from lark_service.domain.jobs import JobOutcome, QueueDepth, SendJob
from lark_service.domain.ports.send_queue import JobHandler, SendQueue

log = logging.getLogger("lark_service.amqp.send")

LAST_ERROR_HEADER = "x-last-error"
_MAX_ERROR_CHARS = 500
_decoder = msgspec.json.Decoder(SendJob)
_encoder = msgspec.json.Encoder()


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A job in ``lark.send.dead`` and why it is there."""

    job: SendJob
    last_error: str


class AmqpSendQueue(SendQueue):
    """Send jobs on RabbitMQ. Build it with `AmqpSendQueue.connect` (or `open` on a connection).

    ``aclose`` stops consuming, waits up to ``drain_timeout`` seconds for the jobs being handled,
    then closes; jobs still unacknowledged then are redelivered to another worker.
    """

    def __init__(
        self,
        connection: AbstractRobustConnection,
        *,
        topology: Topology,
        retry: RetryPolicy,
        publish_timeout: float,
        drain_timeout: float,
        owns_connection: bool,
    ) -> None:
        self._connection = connection
        self._topology = topology
        self._retry = retry
        self._publish_timeout = publish_timeout
        self._drain_timeout = drain_timeout
        self._owns_connection = owns_connection
        self._publish_channel: AbstractRobustChannel | None = None
        self._consumers: list[tuple[AbstractRobustChannel, AbstractQueue, str]] = []
        self._in_flight: set[asyncio.Task[object]] = set()
        self._closing = False

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        prefix: str = "",
        retry: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        publish_timeout: float = 10.0,
        drain_timeout: float = 30.0,
    ) -> AmqpSendQueue:
        """Connect to ``url`` (``LARK_SERVICE_AMQP_URL``) and declare the topology."""
        topology, policy = _check(prefix, retry, publish_timeout, drain_timeout)
        connection = await open_connection(url, connect_timeout=connect_timeout)
        try:
            return await cls._declare(
                connection, topology, policy, publish_timeout, drain_timeout, owns=True
            )
        except BaseException:
            await connection.close()
            raise

    @classmethod
    async def open(
        cls,
        connection: AbstractRobustConnection,
        *,
        prefix: str = "",
        retry: RetryPolicy | None = None,
        publish_timeout: float = 10.0,
        drain_timeout: float = 30.0,
    ) -> AmqpSendQueue:
        """Use a connection shared with other adapters; ``aclose`` leaves it open."""
        topology, policy = _check(prefix, retry, publish_timeout, drain_timeout)
        return await cls._declare(
            connection, topology, policy, publish_timeout, drain_timeout, owns=False
        )

    @classmethod
    async def _declare(
        cls,
        connection: AbstractRobustConnection,
        topology: Topology,
        retry: RetryPolicy,
        publish_timeout: float,
        drain_timeout: float,
        *,
        owns: bool,
    ) -> AmqpSendQueue:
        self = cls(
            connection,
            topology=topology,
            retry=retry,
            publish_timeout=publish_timeout,
            drain_timeout=drain_timeout,
            owns_connection=owns,
        )
        try:
            async with asyncio.timeout(publish_timeout):
                # on_return_raises: a job the broker cannot route (queue deleted) is an error.
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                await channel.declare_queue(topology.send_queue, durable=True)
                await channel.declare_queue(topology.dead_queue, durable=True)
                for delay in sorted(set(retry.delays)):
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
        return self

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
        message = persistent_message(_encoder.encode(job), headers=headers, message_id=job.job_id)
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

    async def consume(self, handler: JobHandler, *, prefetch: int = 16) -> None:
        if not 1 <= prefetch <= 65_535:
            raise ConfigError("prefetch must be between 1 and 65535")
        if self._closing:
            raise TransportError("the send queue is closed")

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
            job = _decoder.decode(message.body)
        except msgspec.DecodeError as exc:
            log.error("undecodable send job %s moved to the dead queue", message.message_id)
            await self._dead_raw(message, f"undecodable job: {exc}")
            return
        try:
            outcome = await handler(job)
            error = "the handler asked for a retry"
        except Exception as exc:
            log.warning("send job %s failed: %s", job.job_id, type(exc).__name__, exc_info=True)
            outcome, error = JobOutcome.RETRY, _describe(exc)
        try:
            if outcome is JobOutcome.RETRY:
                await self._retry_later(job, error)
            elif outcome is JobOutcome.DEAD:
                await self._put(
                    self._topology.dead_queue,
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
            log.warning("send job %s dead after %d attempts", job.job_id, failed.attempt)
            await self._put(self._topology.dead_queue, failed, error)
        else:
            delay = self._retry.delay_after(failed.attempt)
            await self._put(self._topology.retry_queue(delay), failed)

    async def _dead_raw(self, message: AbstractIncomingMessage, error: str) -> None:
        channel = self._channel()
        dead = persistent_message(message.body, headers={LAST_ERROR_HEADER: error[:500]})
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

    # -- the dead-letter queue ------------------------------------------------------------

    async def depth(self) -> QueueDepth:
        async with self._admin_channel() as channel:
            ready = await channel.declare_queue(
                self._topology.send_queue, passive=True, timeout=self._publish_timeout
            )
            dead = await channel.declare_queue(
                self._topology.dead_queue, passive=True, timeout=self._publish_timeout
            )
            return QueueDepth(
                ready=ready.declaration_result.message_count or 0,
                dead=dead.declaration_result.message_count or 0,
            )

    async def dead_letters(self, *, limit: int = 100) -> list[SendJob]:
        return [entry.job for entry in await self.dead_letter_entries(limit=limit)]

    async def dead_letter_entries(self, *, limit: int = 100) -> list[DeadLetter]:
        """Up to ``limit`` dead jobs with their last error, oldest first; they stay queued."""
        if not 1 <= limit <= 10_000:
            raise ConfigError("limit must be between 1 and 10000")
        entries: list[DeadLetter] = []
        async with self._admin_channel() as channel:
            queue = await channel.declare_queue(
                self._topology.dead_queue, passive=True, timeout=self._publish_timeout
            )
            held: list[AbstractIncomingMessage] = []
            try:
                while len(entries) < limit:
                    message = await queue.get(fail=False, timeout=self._publish_timeout)
                    if message is None:
                        break
                    held.append(message)
                    with contextlib.suppress(msgspec.DecodeError):
                        entries.append(
                            DeadLetter(
                                job=_decoder.decode(message.body), last_error=_error_of(message)
                            )
                        )
            finally:
                # Unacknowledged gets go back to the queue: reading does not consume.
                for message in held:
                    await settle(message.nack(requeue=True))
        return entries

    async def replay_dead(self, job_id: str | None = None) -> int:
        """Move dead jobs back to ``lark.send`` with a fresh attempt count."""
        if self._closing:
            raise TransportError("the send queue is closed")
        replayed = 0
        async with self._admin_channel() as channel:
            queue = await channel.declare_queue(
                self._topology.dead_queue, passive=True, timeout=self._publish_timeout
            )
            count = queue.declaration_result.message_count or 0
            kept: list[AbstractIncomingMessage] = []
            try:
                # Messages taken but not settled stay with this channel, so each is seen once.
                for _ in range(count):
                    message = await queue.get(fail=False, timeout=self._publish_timeout)
                    if message is None:
                        break
                    try:
                        job = _decoder.decode(message.body)
                    except msgspec.DecodeError:
                        kept.append(message)
                        continue
                    if job_id is not None and job.job_id != job_id:
                        kept.append(message)
                        continue
                    await self.publish(msgspec.structs.replace(job, attempt=0))
                    await settle(message.ack())
                    replayed += 1
                    if job_id is not None:
                        break
            finally:
                for message in kept:
                    await settle(message.nack(requeue=True))
        return replayed

    @contextlib.asynccontextmanager
    async def _admin_channel(self) -> AsyncIterator[AbstractRobustChannel]:
        """A channel of its own: a failed passive declare closes it, not the shared ones."""
        self._channel()
        try:
            async with asyncio.timeout(self._publish_timeout):
                channel = await self._connection.channel(publisher_confirms=False)
        except TimeoutError as exc:
            raise TransportError("opening a RabbitMQ channel timed out") from exc
        try:
            yield channel
        except ChannelNotFoundEntity as exc:
            raise TransportError("a send queue is missing on the broker") from exc
        finally:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await channel.close()

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


def _check(
    prefix: str, retry: RetryPolicy | None, publish_timeout: float, drain_timeout: float
) -> tuple[Topology, RetryPolicy]:
    check_timeout("publish_timeout", publish_timeout)
    check_timeout("drain_timeout", drain_timeout)
    return Topology(prefix=prefix).validate(), (retry or RetryPolicy()).validate()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]


def _error_of(message: AbstractIncomingMessage) -> str:
    value = (message.headers or {}).get(LAST_ERROR_HEADER)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value) if value is not None else ""
