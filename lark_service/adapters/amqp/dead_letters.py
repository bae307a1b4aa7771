"""Reading and replaying ``lark.send.dead``, and the queue depths, on a channel of their own.

A channel of its own because a failed passive declare (a queue missing) closes the channel it ran
on, and because messages taken with ``basic.get`` and not yet settled stay with that channel: a
read takes up to ``limit`` dead letters, then hands every one back (nack with requeue), so reading
never consumes and no letter is seen twice in one pass.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, ChannelNotFoundEntity

from lark_service.adapters.amqp.publishing import settle
from lark_service.adapters.amqp.topology import Topology
from lark_service.domain.errors import TransportError
from lark_service.domain.jobs import QueueDepth, SendJob

LAST_ERROR_HEADER = "x-last-error"

_decoder = msgspec.json.Decoder(SendJob)
_encoder = msgspec.json.Encoder()


def encode_job(job: SendJob) -> bytes:
    return _encoder.encode(job)


def decode_job(body: bytes) -> SendJob:
    """Raises `msgspec.DecodeError` for a body that is not a job."""
    return _decoder.decode(body)


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A job in ``lark.send.dead`` and why it is there (its ``x-last-error`` header)."""

    job: SendJob
    last_error: str


class DeadLetterAdmin:
    """Depth, read and replay on one short-lived channel; build it with `DeadLetterAdmin.open`."""

    def __init__(self, channel: AbstractRobustChannel, topology: Topology, timeout: float) -> None:
        self._channel = channel
        self._topology = topology
        self._timeout = timeout

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, connection: AbstractRobustConnection, topology: Topology, *, op_timeout: float
    ) -> AsyncIterator[DeadLetterAdmin]:
        try:
            async with asyncio.timeout(op_timeout):
                channel = await connection.channel(publisher_confirms=False)
        except TimeoutError as exc:
            raise TransportError("opening a RabbitMQ channel timed out") from exc
        try:
            yield cls(channel, topology, op_timeout)
        except ChannelNotFoundEntity as exc:
            raise TransportError("a send queue is missing on the broker") from exc
        finally:
            with contextlib.suppress(*CONNECTION_EXCEPTIONS):
                await channel.close()

    async def _passive(self, name: str) -> AbstractQueue:
        return await self._channel.declare_queue(name, passive=True, timeout=self._timeout)

    async def depth(self) -> QueueDepth:
        ready = await self._passive(self._topology.send_queue)
        dead = await self._passive(self._topology.dead_queue)
        return QueueDepth(
            ready=ready.declaration_result.message_count or 0,
            dead=dead.declaration_result.message_count or 0,
        )

    async def peek_dead(self, limit: int) -> list[DeadLetter]:
        queue = await self._passive(self._topology.dead_queue)
        entries: list[DeadLetter] = []
        held: list[AbstractIncomingMessage] = []
        try:
            while len(entries) < limit:
                message = await queue.get(fail=False, timeout=self._timeout)
                if message is None:
                    break
                held.append(message)
                with contextlib.suppress(msgspec.DecodeError):
                    entries.append(
                        DeadLetter(job=decode_job(message.body), last_error=_last_error(message))
                    )
        finally:
            for message in held:
                await settle(message.nack(requeue=True))
        return entries

    async def replay_dead(
        self, job_id: str | None, publish: Callable[[SendJob], Awaitable[None]]
    ) -> int:
        """Publish matching dead jobs (``attempt`` reset) and ack each once it is confirmed."""
        queue = await self._passive(self._topology.dead_queue)
        count = queue.declaration_result.message_count or 0
        kept: list[AbstractIncomingMessage] = []
        replayed = 0
        try:
            for _ in range(count):
                message = await queue.get(fail=False, timeout=self._timeout)
                if message is None:
                    break
                try:
                    job = decode_job(message.body)
                except msgspec.DecodeError:
                    kept.append(message)
                    continue
                if job_id is not None and job.job_id != job_id:
                    kept.append(message)
                    continue
                try:
                    await publish(msgspec.structs.replace(job, attempt=0))
                except BaseException:
                    kept.append(message)
                    raise
                await settle(message.ack())
                replayed += 1
                if job_id is not None:
                    break
        finally:
            for message in kept:
                await settle(message.nack(requeue=True))
        return replayed


def _last_error(message: AbstractIncomingMessage) -> str:
    value = (message.headers or {}).get(LAST_ERROR_HEADER)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value) if value is not None else ""
