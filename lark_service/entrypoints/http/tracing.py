"""A ``server`` span per HTTP request, named by its route template, continuing the caller's trace.

The span is named ``"<method> <route template>"`` (``POST /v1/messages``): the template, never
the path, so ids stay out of span names. An incoming W3C ``traceparent`` header makes the
request's span a child of the caller's. The response status is the ``http.response.status_code``
attribute; a 5xx marks the span failed. The health probes (``/healthz``, ``/readyz``) are not
traced. With tracing off (`NullTracer`) the middleware is not installed at all.
"""

from __future__ import annotations

from collections.abc import Callable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from lark_service.domain.ports.tracing import Tracer
from lark_service.entrypoints.http.response_status import ResponseStatus

TRACEPARENT = b"traceparent"
# probes hit these every few seconds: a one-span trace each would bury the real ones
UNTRACED_ROUTES = frozenset({"/healthz", "/readyz"})


def tracing_middleware(tracer: Tracer) -> Callable[..., ASGIApp]:
    """A Litestar middleware factory making one span of each request in ``tracer``."""

    def factory(app: ASGIApp) -> ASGIApp:
        if not tracer.enabled:
            return app

        async def trace(scope: Scope, receive: Receive, send: Send) -> None:
            route = str(scope.get("path_template", "unmatched"))
            if scope["type"] != ScopeType.HTTP or route in UNTRACED_ROUTES:
                await app(scope, receive, send)
                return
            method = str(scope.get("method", ""))
            attributes = {"http.request.method": method, "http.route": route}
            noted = ResponseStatus(send)
            with tracer.span(
                f"{method} {route}", attributes, kind="server", parent=_traceparent(scope)
            ) as span:
                try:
                    await app(scope, receive, noted)
                finally:
                    span.set_attribute("http.response.status_code", noted.status)
                    if noted.status >= 500:
                        span.record_error(str(noted.status))

        return trace

    return factory


def _traceparent(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == TRACEPARENT:
            return value.decode("latin-1")
    return None
