"""Every HTTP request counted by route template and status, and timed (`Metrics.http_request`).

The route template (``/v1/jobs/{job_id:str}``), never the path: ids stay out of the labels.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from lark_service.domain.ports.metrics import Metrics


def metrics_middleware(metrics: Metrics) -> Callable[..., ASGIApp]:
    """A Litestar middleware factory recording each request in ``metrics``."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def record(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            method = str(scope.get("method", ""))
            started = time.perf_counter()
            status = 500  # what the client sees if the app fails before answering

            async def send_and_note(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_and_note)
            finally:
                metrics.http_request(
                    route=str(scope.get("path_template", "unmatched")),
                    method=method,
                    status=status,
                    seconds=time.perf_counter() - started,
                )

        return record

    return factory
