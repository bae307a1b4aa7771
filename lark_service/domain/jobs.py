"""Send jobs: a message send that was queued instead of sent at once (``Prefer: respond-async``).

The job id is also the ``uuid`` Lark deduplicates sends by, so a job delivered twice (a
redelivery after a crash between the send and the ack) is sent once.
"""

from __future__ import annotations

import enum
from typing import Literal

import msgspec

JobStatus = Literal["queued", "sent", "failed", "dead"]


class SendJob(msgspec.Struct, frozen=True, kw_only=True):
    """What the worker needs to send one message, bound to one app at enqueue time."""

    job_id: str
    app_id: str
    receive_id: str
    receive_id_type: str
    msg_type: str
    content: str  # Lark's JSON string, as sent on the wire
    attempt: int = 0
    enqueued_at: float = 0.0
    # W3C trace context of the request that queued the job (observability issue)
    traceparent: str | None = None


class JobRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The status of a job as `GET /v1/jobs/{job_id}` reports it."""

    job_id: str
    app_id: str
    status: JobStatus
    attempts: int = 0
    message_id: str | None = None
    error_code: int | None = None
    error_msg: str | None = None
    log_id: str | None = None
    updated_at: float = 0.0


class JobOutcome(enum.Enum):
    """What a job handler tells the send queue to do with a delivered job."""

    DONE = "done"  # acknowledge: sent, or failed for good and recorded as such
    RETRY = "retry"  # redeliver later with backoff; dead-letter after the last attempt
    DEAD = "dead"  # move to the dead-letter queue now


class QueueDepth(msgspec.Struct, frozen=True, kw_only=True):
    ready: int
    dead: int
