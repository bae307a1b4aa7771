"""Serving ``/metrics`` in Prometheus text format: on its own port, or mounted in an ASGI app.

The service and the worker each serve their own registry on ``LARK_SERVICE_METRICS_PORT``
(default 9090), so Prometheus scrapes both (ops/prometheus/prometheus.yml).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, make_asgi_app, start_http_server

# Prometheus scrapes from another container; the metrics carry no secrets.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104  # nosec B104

_Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [_Message, Callable[[], Awaitable[_Message]], Callable[[_Message], Awaitable[None]]],
    Awaitable[None],
]


class MetricsServer:
    """A running ``/metrics`` endpoint on its own thread; `close` stops it."""

    def __init__(self, port: int, addr: str, registry: CollectorRegistry) -> None:
        self._server, self._thread = start_http_server(port, addr=addr, registry=registry)
        self.port: int = self._server.server_port
        self.addr = addr

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_metrics(
    port: int,
    *,
    addr: str = ALL_INTERFACES,
    registry: CollectorRegistry | None = None,
) -> MetricsServer:
    """Serve ``registry`` (default prometheus_client's) in a daemon thread; port 0 picks one.

    The port is the caller's (``Settings.metrics_port``, default 9090): one default, there.
    """
    return MetricsServer(port, addr, registry or REGISTRY)


def metrics_asgi_app(registry: CollectorRegistry | None = None) -> ASGIApp:
    """An ASGI app answering with ``registry``'s metrics, to mount at ``/metrics``."""
    app: ASGIApp = make_asgi_app(registry or REGISTRY)
    return app
