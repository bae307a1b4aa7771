"""Traces: one trace from an HTTP request through the send queue and the worker to Lark.

The service runs in process (Litestar's test client, the in-memory send queue and its worker,
the pool on the fake Lark server) with an `OtelTracer` on the SDK's in-memory exporter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from lark_service.adapters.memory import SystemClock
from lark_service.adapters.memory.jobs import InMemoryJobStore
from lark_service.adapters.otel.tracing import OtelTracer, otlp_traces_url, tracer_provider
from lark_service.application import CredentialPool
from lark_service.application.clients.messaging import MessagingClient
from lark_service.application.usecases.sending import SendCommand, SendingService
from lark_service.domain.errors import BadRequestError
from lark_service.domain.jobs import JobOutcome, QueueDepth, SendJob
from lark_service.domain.ports.send_queue import DeadHook, DoneCheck, JobHandler
from lark_service.domain.ports.tracing import NULL_SPAN, NullTracer
from lark_service.entrypoints.http import create_app
from lark_service.entrypoints.http.tracing import tracing_middleware
from lark_service.entrypoints.http.wiring import open_services
from lark_service.testing.fake_lark import FakeLark

from .http_support import MAX_ATTEMPTS, Api, bearer, no_wait

pytestmark = pytest.mark.anyio

CHAT = "oc_chat_secretive_42"
TEXT = "hello from a user"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
CALLER = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(spans: InMemorySpanExporter) -> Iterator[OtelTracer]:
    tracer = OtelTracer(tracer_provider(spans, batch=False))
    yield tracer
    tracer.shutdown()


@pytest.fixture
async def api(pool: CredentialPool, tracer: OtelTracer) -> AsyncIterator[Api]:
    pool.tracer = tracer  # what the composition root passes as CredentialPool(tracer=...)
    async with open_services(pool, max_attempts=MAX_ATTEMPTS, sleep=no_wait) as services:
        admin = (await services.keys.create(["admin"], name="admin")).key
        send = (await services.keys.create(["send"], name="sender")).key
        read = (await services.keys.create(["read"], name="reader")).key
        async with AsyncTestClient(app=create_app(services)) as client:
            yield Api(client, services, bearer(admin), bearer(send), bearer(read))


def body(**kw: object) -> dict[str, object]:
    return {"receive_id": CHAT, "msg_type": "text", "content": {"text": TEXT}, **kw}


def by_name(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = by_name(spans, name)
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


# -- one trace across the service --------------------------------------------------------------


async def test_one_trace_covers_request_queue_worker_and_lark_call(
    api: Api, spans: InMemorySpanExporter, fake: FakeLark
) -> None:
    headers = {**api.send, "Prefer": "respond-async", "traceparent": CALLER}
    r = await api.client.post("/v1/messages", json=body(), headers=headers)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    await api.queue.join()
    assert len(fake.messages) == 1

    finished = spans.get_finished_spans()
    request = one(finished, "POST /v1/messages")
    publish = one(finished, "publish lark.send")
    process = one(finished, "process lark.send")
    call = one(finished, "im.message.create")
    # every span of the request, the queue, the worker and the Lark call is in the caller's trace
    assert {trace_id(s) for s in finished} == {CALLER_TRACE}
    assert parent_id(request) == int(CALLER_SPAN, 16)
    assert request.parent is not None and request.parent.is_remote
    assert parent_id(publish) == span_id(request)
    assert parent_id(process) == span_id(publish)  # through SendJob.traceparent only
    assert parent_id(call) == span_id(process)

    assert (request.kind, publish.kind, process.kind, call.kind) == (
        SpanKind.SERVER,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
        SpanKind.CLIENT,
    )
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/v1/messages"
    assert request.attributes["http.request.method"] == "POST"
    assert request.attributes["http.response.status_code"] == 202
    assert dict(process.attributes or {}) == {
        "lark.app_id": "cli_app0",
        "messaging.message.id": job_id,
        "lark.attempt": 1,
        "lark.job.outcome": "done",
    }
    assert call.attributes is not None
    assert call.attributes["lark.app_id"] == "cli_app0"
    assert call.attributes["lark.api"] == "im.message.create"
    assert call.attributes["lark.code"] == 0
    (sent,) = [q for q in fake.requests if q.path == "/open-apis/im/v1/messages"]
    assert call.attributes["lark.log_id"]  # Lark's X-Tt-Logid of the send
    assert call.status.status_code is StatusCode.UNSET
    assert sent.json()["uuid"] == job_id


async def test_without_incoming_traceparent_the_request_starts_the_trace(
    api: Api, spans: InMemorySpanExporter
) -> None:
    r = await api.client.post("/v1/messages", json=body(), headers=api.send)
    assert r.status_code == 200, r.text
    finished = spans.get_finished_spans()
    request = one(finished, "POST /v1/messages")
    call = one(finished, "im.message.create")
    assert request.parent is None
    assert parent_id(call) == span_id(request) and trace_id(call) == trace_id(request)


@pytest.mark.parametrize(
    "header", ["garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01", "x" * 500]
)
async def test_an_invalid_traceparent_is_ignored(
    api: Api, spans: InMemorySpanExporter, header: str
) -> None:
    r = await api.client.get("/v1/jobs/nope", headers={**api.read, "traceparent": header})
    assert r.status_code == 404
    request = one(spans.get_finished_spans(), "GET /v1/jobs/{job_id}")
    assert request.parent is None  # a new trace, not an error
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 404
    assert request.status.status_code is StatusCode.UNSET  # a 4xx is the caller's


async def test_each_retry_of_a_job_is_a_consumer_span_in_the_same_trace(
    api: Api, spans: InMemorySpanExporter, fake: FakeLark
) -> None:
    fake.inject_fault("5xx", path_prefix="/open-apis/im/", count=1000)
    headers = {**api.send, "Prefer": "respond-async", "traceparent": CALLER}
    r = await api.client.post("/v1/messages", json=body(), headers=headers)
    assert r.status_code == 202
    await api.queue.join()
    finished = spans.get_finished_spans()
    processes = by_name(finished, "process lark.send")
    assert [s.attributes["lark.attempt"] for s in processes if s.attributes] == [1, 2, 3]
    assert [s.attributes["lark.job.outcome"] for s in processes if s.attributes] == [
        "retry",
        "retry",
        "dead",
    ]
    publish = one(finished, "publish lark.send")
    assert {parent_id(s) for s in processes} == {span_id(publish)}
    assert {trace_id(s) for s in finished} == {CALLER_TRACE}
    for process in processes:
        assert process.status.status_code is StatusCode.ERROR
        assert process.status.description == "ServerError"


async def test_a_lark_error_marks_the_call_and_the_job(
    api: Api, spans: InMemorySpanExporter
) -> None:
    headers = {**api.send, "Prefer": "respond-async"}
    bad = body(content={"not_text": "x"})  # Lark refuses it: 230001
    assert (await api.client.post("/v1/messages", json=bad, headers=headers)).status_code == 202
    await api.queue.join()
    finished = spans.get_finished_spans()
    call = one(finished, "im.message.create")
    assert call.attributes is not None
    assert call.attributes["lark.code"] == 230001
    assert call.attributes["lark.log_id"]
    assert call.attributes["error.type"] == "BadRequestError"
    # the class name only: Lark's message can quote what it rejected
    assert call.status.status_code is StatusCode.ERROR
    assert call.status.description == "BadRequestError"
    assert not call.events  # no recorded exception (message, stack trace)
    process = one(finished, "process lark.send")
    assert process.attributes is not None and process.attributes["lark.job.outcome"] == "done"
    assert process.status.status_code is StatusCode.ERROR


async def test_a_lark_error_answered_at_once_is_in_the_request_trace(
    api: Api, spans: InMemorySpanExporter
) -> None:
    r = await api.client.post(
        "/v1/messages", json=body(content={"not_text": "x"}), headers=api.send
    )
    assert r.status_code == 400
    finished = spans.get_finished_spans()
    request = one(finished, "POST /v1/messages")
    call = one(finished, "im.message.create")
    assert parent_id(call) == span_id(request)
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 400
    assert call.attributes is not None and call.attributes["lark.code"] == 230001


async def test_health_probes_are_not_traced(api: Api, spans: InMemorySpanExporter) -> None:
    assert (await api.client.get("/healthz")).status_code == 200
    assert (await api.client.get("/readyz")).status_code == 200
    assert (await api.client.get("/v1/jobs/nope", headers=api.read)).status_code == 404
    assert [s.name for s in spans.get_finished_spans()] == ["GET /v1/jobs/{job_id}"]


# -- Lark calls ---------------------------------------------------------------------------------


async def test_a_lark_call_is_a_child_of_the_current_span(
    pool: CredentialPool, tracer: OtelTracer, spans: InMemorySpanExporter
) -> None:
    pool.tracer = tracer
    with tracer.span("outer") as outer:
        outer.set_attribute("step", 1)
        await MessagingClient(pool).send_text(CHAT, TEXT)
    finished = spans.get_finished_spans()
    call, root = one(finished, "im.message.create"), one(finished, "outer")
    assert parent_id(call) == span_id(root)
    assert root.attributes == {"step": 1}


async def test_a_token_invalid_retry_stays_one_call_span(
    pool: CredentialPool, tracer: OtelTracer, spans: InMemorySpanExporter, fake: FakeLark
) -> None:
    pool.tracer = tracer
    fake.inject_fault("token_invalid", path_prefix="/open-apis/im/", count=1)
    await MessagingClient(pool).send_text(CHAT, TEXT)
    (call,) = spans.get_finished_spans()
    assert call.name == "im.message.create"
    assert call.attributes is not None and call.attributes["lark.code"] == 0
    assert call.status.status_code is StatusCode.UNSET


async def test_a_failed_call_carries_the_error_class_only(
    pool: CredentialPool, tracer: OtelTracer, spans: InMemorySpanExporter
) -> None:
    pool.tracer = tracer
    with pytest.raises(BadRequestError):
        await MessagingClient(pool).send_message(CHAT, "text", {"not_text": CHAT})
    (call,) = spans.get_finished_spans()
    assert call.attributes is not None and call.attributes["error.type"] == "BadRequestError"
    assert CHAT not in repr(call.to_json())


# -- no secrets -------------------------------------------------------------------------------

ALLOWED_ATTRIBUTES = {
    "http.request.method",
    "http.route",
    "http.response.status_code",
    "lark.app_id",
    "lark.api",
    "lark.code",
    "lark.log_id",
    "lark.attempt",
    "lark.job.outcome",
    "messaging.message.id",
    "error.type",
}


async def test_spans_hold_no_token_secret_or_user_data(
    api: Api, spans: InMemorySpanExporter, fake: FakeLark
) -> None:
    async_send = {**api.send, "Prefer": "respond-async"}
    await api.client.post("/v1/messages", json=body(), headers=api.send)
    await api.client.post("/v1/messages", json=body(), headers=async_send)
    await api.client.post("/v1/messages", json=body(content={"not_text": CHAT}), headers=async_send)
    fake.inject_fault("token_invalid", path_prefix="/open-apis/im/", count=1)
    await api.client.post("/v1/messages", json=body(), headers=api.send)
    await api.queue.join()
    finished = spans.get_finished_spans()
    assert len(finished) >= 10

    tokens = {
        q.headers["authorization"].removeprefix("Bearer ")
        for q in fake.requests
        if "authorization" in q.headers
    }
    secrets = {app.app_secret for app in fake.apps.values()}
    api_keys = {h["Authorization"].removeprefix("Bearer ") for h in (api.admin, api.send, api.read)}
    forbidden = tokens | secrets | api_keys | {CHAT, TEXT}
    assert tokens and all(len(v) > 8 for v in forbidden)
    for span in finished:
        assert set(span.attributes or {}) <= ALLOWED_ATTRIBUTES, span.name
        exported = span.to_json()  # everything an exporter would see of the span
        leaked = [v for v in forbidden if v in exported]
        assert not leaked, (span.name, leaked)


# -- tracing off --------------------------------------------------------------------------------


class RecordingQueue:
    """A send queue that keeps what is published (the port, not a patch)."""

    def __init__(self) -> None:
        self.jobs: list[SendJob] = []

    async def publish(self, job: SendJob) -> None:
        self.jobs.append(job)

    async def consume(
        self,
        handler: JobHandler,
        *,
        prefetch: int = 16,
        on_dead: DeadHook | None = None,
        is_done: DoneCheck | None = None,
    ) -> None:
        return None

    async def depth(self) -> QueueDepth:
        return QueueDepth(ready=len(self.jobs), dead=0)

    async def dead_letters(self, *, limit: int = 100) -> list[SendJob]:
        return []

    async def replay_dead(self, job_id: str | None = None) -> int:
        return 0

    async def aclose(self) -> None:
        return None


def sending(pool: CredentialPool, queue: RecordingQueue, **kw: Any) -> SendingService:
    return SendingService(
        messaging=MessagingClient(pool),
        jobs=InMemoryJobStore(),
        queue=queue,
        clock=SystemClock(),
        **kw,
    )


async def test_enqueue_stores_the_current_traceparent_in_the_job(
    pool: CredentialPool, tracer: OtelTracer, spans: InMemorySpanExporter
) -> None:
    queue = RecordingQueue()
    service = sending(pool, queue, tracer=tracer)
    await service.enqueue(SendCommand(receive_id=CHAT, msg_type="text", content={"text": TEXT}))
    (job,) = queue.jobs
    publish = one(spans.get_finished_spans(), "publish lark.send")
    assert publish.parent is None  # no request around it: the producer span starts the trace
    assert job.traceparent is not None
    assert job.traceparent.startswith(f"00-{trace_id(publish)}-{span_id(publish):016x}-")
    assert await service.handle_job(job) is JobOutcome.DONE
    process = one(spans.get_finished_spans(), "process lark.send")
    assert parent_id(process) == span_id(publish)


async def test_with_tracing_off_jobs_carry_no_traceparent_and_nothing_is_recorded(
    pool: CredentialPool,
) -> None:
    assert isinstance(pool.tracer, NullTracer)  # the default
    queue = RecordingQueue()
    service = sending(pool, queue)
    assert isinstance(service.tracer, NullTracer)
    await service.enqueue(SendCommand(receive_id=CHAT, msg_type="text", content={"text": TEXT}))
    assert queue.jobs[0].traceparent is None
    # a job from a traced producer is handled the same without a tracer
    traced = SendJob(**{**_fields(queue.jobs[0]), "traceparent": CALLER})
    assert await service.handle_job(traced) is JobOutcome.DONE


def _fields(job: SendJob) -> dict[str, Any]:
    return {f: getattr(job, f) for f in job.__struct_fields__}


def test_null_tracer_costs_no_allocation() -> None:
    tracer = NullTracer()
    first, second = tracer.span("a"), tracer.span("b", {"k": 1}, kind="client", parent=CALLER)
    assert first is second  # one shared scope
    with first as span:
        assert span is NULL_SPAN
        span.set_attribute("k", "v")
        span.record_error(ValueError("x"))
    assert tracer.inject() is None and not tracer.enabled


async def test_the_middleware_is_not_installed_when_tracing_is_off() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    assert tracing_middleware(NullTracer())(app) is app


def test_a_span_left_by_an_exception_is_marked_failed(
    tracer: OtelTracer, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(KeyError), tracer.span("work"):
        raise KeyError(CHAT)
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes == {"error.type": "KeyError"}
    assert CHAT not in span.to_json()
    assert tracer.inject() is None  # the span is no longer current


def test_inject_outside_and_inside_a_span(tracer: OtelTracer) -> None:
    assert tracer.inject() is None
    with tracer.span("x", parent=CALLER):
        injected = tracer.inject()
        assert injected is not None and injected.startswith(f"00-{CALLER_TRACE}-")
        assert injected != CALLER  # the current span's id, not the parent's
    assert tracer.enabled


def test_otlp_url_follows_the_standard_variable() -> None:
    assert otlp_traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert otlp_traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
