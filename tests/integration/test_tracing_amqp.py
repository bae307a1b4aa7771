"""Traces across the real RabbitMQ send queue, and OTLP export to a real HTTP receiver.

The service side and the worker side have separate tracer providers and exporters, as two
processes would: the worker's spans can join the request's trace only through the job's
``traceparent`` as it came back from the broker (body and AMQP header).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lark_service.adapters.amqp import AmqpSendQueue, SendQueueOptions
from lark_service.adapters.memory import SystemClock
from lark_service.adapters.memory.jobs import InMemoryJobStore
from lark_service.adapters.otel.tracing import OtelTracer, tracer_provider
from lark_service.application import CredentialPool
from lark_service.application.clients.messaging import MessagingClient
from lark_service.application.usecases.sending import SendCommand, SendingService
from lark_service.domain.jobs import JobRecord
from lark_service.entrypoints.worker import run_worker
from lark_service.testing.fake_lark import FakeLark
from tests.integration.amqp_scratch import AMQP_URL, FAST_RETRY, scratch_prefix

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async with scratch_prefix() as p:
        yield p


def in_memory_tracer() -> tuple[OtelTracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    return OtelTracer(tracer_provider(exporter, batch=False)), exporter


async def sent_within(jobs: InMemoryJobStore, job_id: str, seconds: float) -> JobRecord:
    async with asyncio.timeout(seconds):
        while True:
            found = await jobs.get_job(job_id)
            if found is not None and found.status == "sent":
                return found
            await asyncio.sleep(0.02)


def ids(span: ReadableSpan) -> tuple[int, int]:
    assert span.context is not None
    return span.context.trace_id, span.context.span_id


async def test_the_traceparent_survives_the_real_queue_and_its_retries(
    prefix: str, pool: CredentialPool, fake: FakeLark
) -> None:
    service_tracer, service_spans = in_memory_tracer()
    worker_tracer, worker_spans = in_memory_tracer()
    options = SendQueueOptions(prefix=prefix, retry=FAST_RETRY, drain_timeout=10)
    service_queue = await AmqpSendQueue.connect(AMQP_URL, options)
    worker_queue = await AmqpSendQueue.connect(AMQP_URL, options)
    jobs = InMemoryJobStore()
    messaging = MessagingClient(pool)
    service = SendingService(
        messaging=messaging,
        jobs=jobs,
        queue=service_queue,
        clock=SystemClock(),
        tracer=service_tracer,
    )
    pool.tracer = worker_tracer  # the worker's Lark calls
    worker = SendingService(
        messaging=messaging,
        jobs=jobs,
        queue=worker_queue,
        clock=SystemClock(),
        tracer=worker_tracer,
    )
    # the first attempt fails (5xx past the transport's own retries): the broker redelivers
    fake.inject_fault("5xx", path_prefix="/open-apis/im/", count=3)
    stop = asyncio.Event()
    running = asyncio.create_task(
        run_worker(worker_queue, worker.handle_job, stop, handle_signals=False)
    )
    try:
        with service_tracer.span("POST /v1/messages", kind="server"):
            record = await service.enqueue(
                SendCommand(receive_id="oc_chat", msg_type="text", content={"text": "hi"})
            )
        sent = await sent_within(jobs, record.job_id, 15.0)
    finally:
        stop.set()
        await asyncio.wait_for(running, 15)
        await service_queue.aclose()

    request = next(s for s in service_spans.get_finished_spans() if s.kind.name == "SERVER")
    (publish,) = [s for s in service_spans.get_finished_spans() if s.name == "publish lark.send"]
    trace_id, _ = ids(request)
    processes = [s for s in worker_spans.get_finished_spans() if s.name == "process lark.send"]
    calls = [s for s in worker_spans.get_finished_spans() if s.name == "im.message.create"]
    assert len(processes) >= 2  # at least one redelivery through the retry queue
    outcomes = [s.attributes["lark.job.outcome"] for s in processes if s.attributes]
    assert outcomes[0] == "retry" and outcomes[-1] == "done"
    for process in processes:
        assert ids(process)[0] == trace_id
        assert process.parent is not None and process.parent.is_remote
        assert process.parent.span_id == ids(publish)[1]
    assert {ids(c)[0] for c in calls} == {trace_id}
    assert {c.parent.span_id for c in calls if c.parent} <= {ids(p)[1] for p in processes}
    assert len(fake.messages) == 1 and sent.attempts == len(processes)


# -- OTLP export ------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.append((self.path, self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    received: list[tuple[str, bytes]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_spans_are_exported_over_otlp_http_to_v1_traces(
    collector: tuple[str, list[tuple[str, bytes]]],
) -> None:
    endpoint, received = collector
    tracer = OtelTracer.otlp(endpoint, service_name="lark-service-worker")
    with tracer.span("process lark.send", {"lark.app_id": "cli_a"}, kind="consumer"):
        with tracer.span("im.message.create", {"lark.code": 0}, kind="client"):
            pass
    tracer.shutdown()  # flushes the batch
    assert [path for path, _ in received] == ["/v1/traces"]
    export = ExportTraceServiceRequest()
    export.ParseFromString(received[0][1])
    (resource_spans,) = export.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "lark-service-worker"
    names = [s.name for scope in resource_spans.scope_spans for s in scope.spans]
    assert sorted(names) == ["im.message.create", "process lark.send"]
