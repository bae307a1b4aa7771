"""The `Tracer` port on the OpenTelemetry SDK, with W3C trace context and OTLP export.

`OtelTracer.otlp` exports spans in batches over OTLP/HTTP (protobuf) to
``<endpoint>/v1/traces``, the path the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` implies. The
provider is our own, not OpenTelemetry's global one: embedders keep theirs, and tests build one
on the SDK's in-memory exporter (`tracer_provider`).

A failed span is marked with its error's class name only (``error.type``): the SDK's
``record_exception`` would store the message and the stack trace, and Lark's messages can quote
the ids they reject.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from lark_service.domain.ports.tracing import AttributeValue, Span, SpanKind, Tracer

OTLP_TRACES_PATH = "/v1/traces"
# seconds; bounds each export, and so the flush at shutdown
EXPORT_TIMEOUT = 5.0
# a W3C traceparent is 55 characters; anything much longer is not one
_MAX_TRACEPARENT = 128

_KINDS: dict[SpanKind, trace.SpanKind] = {
    "internal": trace.SpanKind.INTERNAL,
    "server": trace.SpanKind.SERVER,
    "client": trace.SpanKind.CLIENT,
    "producer": trace.SpanKind.PRODUCER,
    "consumer": trace.SpanKind.CONSUMER,
}
_PROPAGATOR = TraceContextTextMapPropagator()


def tracer_provider(
    exporter: SpanExporter, *, service_name: str = "lark-service", batch: bool = True
) -> TracerProvider:
    """A provider sending every span to ``exporter``: in batches from a background thread,
    or (``batch=False``, for tests) synchronously as each span ends."""
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}), shutdown_on_exit=False
    )
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    return provider


def otlp_traces_url(endpoint: str) -> str:
    """``OTEL_EXPORTER_OTLP_ENDPOINT`` is a base URL; traces go to its ``/v1/traces``."""
    return endpoint.rstrip("/") + OTLP_TRACES_PATH


class _OtelSpan:
    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def record_error(self, error: BaseException | str) -> None:
        kind = error if isinstance(error, str) else type(error).__name__
        self._span.set_attribute("error.type", kind)
        self._span.set_status(Status(StatusCode.ERROR, kind))


class _Scope:
    """Starts the span on enter and makes it current; ends it on exit."""

    __slots__ = ("_attributes", "_kind", "_name", "_parent", "_span", "_token", "_tracer")

    def __init__(
        self,
        tracer: trace.Tracer,
        name: str,
        attributes: Mapping[str, AttributeValue] | None,
        kind: SpanKind,
        parent: str | None,
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._attributes = attributes
        self._kind = kind
        self._parent = parent

    def __enter__(self) -> Span:
        parent = self._parent
        start_in = None
        if parent and len(parent) <= _MAX_TRACEPARENT:
            # an invalid traceparent leaves the current context as it is
            start_in = _PROPAGATOR.extract({"traceparent": parent})
        self._span = span = self._tracer.start_span(
            self._name,
            context=start_in,
            kind=_KINDS[self._kind],
            attributes=self._attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        self._token = otel_context.attach(trace.set_span_in_context(span))
        return _OtelSpan(span)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is not None:
                _OtelSpan(self._span).record_error(exc)
        finally:
            otel_context.detach(self._token)
            self._span.end()


class OtelTracer(Tracer):
    """Spans through an OpenTelemetry `TracerProvider`; shut it down with `shutdown`."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("lark_service")

    @classmethod
    def otlp(cls, endpoint: str, *, service_name: str = "lark-service") -> OtelTracer:
        """Export to the OTLP/HTTP collector at ``endpoint`` (``http://collector:4318``)."""
        # imported here: only a configured endpoint needs the exporter (and protobuf)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_traces_url(endpoint), timeout=EXPORT_TIMEOUT)
        return cls(tracer_provider(exporter, service_name=service_name))

    @property
    def enabled(self) -> bool:
        return True

    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKind = "internal",
        parent: str | None = None,
    ) -> _Scope:
        return _Scope(self._tracer, name, attributes, kind, parent)

    def inject(self) -> str | None:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get("traceparent")

    def shutdown(self) -> None:
        """Flush the spans not exported yet (bounded by the export timeout) and stop."""
        shutdown = getattr(self._provider, "shutdown", None)
        if shutdown is not None:
            shutdown()
