"""The `Tracer` port: spans for HTTP requests, queued jobs and Lark calls, W3C trace context.

A trace crosses processes as a W3C ``traceparent`` string (``00-<trace id>-<span id>-<flags>``):
`Tracer.inject` gives the current one (stored in a `SendJob`, sent in the AMQP headers), and
``Tracer.span(..., parent=traceparent)`` continues it on the other side (the worker, or an
HTTP request carrying the header).

Attributes are bounded and never secret: an app id, an API name, a route template, a status,
Lark's code and log id, an error class name. Never a token, a secret, a user, chat or message
id, nor an error message (Lark's messages can quote the ids they reject).

`NullTracer` records nothing at the cost of two method calls; it is the default everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Literal, Protocol

AttributeValue = str | int | float | bool
SpanKind = Literal["internal", "server", "client", "producer", "consumer"]
"""OpenTelemetry's span kinds: an HTTP request is ``server``, a Lark call ``client``, the
enqueue of a job ``producer`` and its handling in the worker ``consumer``."""


class Span(Protocol):
    """The span of the ``with tracer.span(...)`` block."""

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Add a bounded, non-secret attribute (see the module docstring)."""
        ...

    def record_error(self, error: BaseException | str) -> None:
        """Mark the span failed with ``error``'s class name (never its message), or with
        ``error`` itself when it is a string naming the kind of failure (``"500"``)."""
        ...


class SpanScope(Protocol):
    """A context manager making its span the current one until exit.

    An exception leaving the block marks the span failed, as `Span.record_error` does.
    """

    def __enter__(self) -> Span: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Tracer(Protocol):
    """Starts spans and carries the trace context across the queue and HTTP."""

    @property
    def enabled(self) -> bool:
        """False when spans are not recorded (callers may skip computing attributes)."""
        ...

    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKind = "internal",
        parent: str | None = None,
    ) -> SpanScope:
        """A span named ``name``, child of the current span, or of ``parent`` when given.

        ``parent`` is a W3C ``traceparent`` from another process; an invalid one is
        ignored (the span then starts a new trace or continues the current one).
        """
        ...

    def inject(self) -> str | None:
        """The W3C ``traceparent`` of the current span; ``None`` when there is none."""
        ...


class _NullSpan:
    __slots__ = ()

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        return None

    def record_error(self, error: BaseException | str) -> None:
        return None


class _NullScope:
    __slots__ = ()

    def __enter__(self) -> Span:
        return NULL_SPAN

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


NULL_SPAN: Span = _NullSpan()
_NULL_SCOPE = _NullScope()


class NullTracer(Tracer):
    """Records nothing: one shared scope and span, no allocation per call."""

    @property
    def enabled(self) -> bool:
        return False

    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKind = "internal",
        parent: str | None = None,
    ) -> SpanScope:
        return _NULL_SCOPE

    def inject(self) -> str | None:
        return None
