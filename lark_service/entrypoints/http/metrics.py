"""Every HTTP request counted by route template and status, and timed (`Metrics.http_request`).

The route template (``/v1/jobs/{job_id:str}``), never the path: ids stay out of the labels.

`record_requests` wraps the whole Litestar app (its ``asgi_handler``), not each route: a
route middleware makes Litestar put a second exception-handling layer around every handler,
which cost more per request than the recording. Outside the router, the route template is
known once the app returns (the router writes it into the scope); a request that matched no
route (404, 405) has none and is not recorded, as it was not when this was a route middleware.
"""

from __future__ import annotations

import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from lark_service.domain.ports.metrics import Metrics
from lark_service.entrypoints.http.response_status import ResponseStatus

_PATH_TEMPLATE = "path_template"  # set in the scope by Litestar's router


def record_requests(app: ASGIApp, metrics: Metrics) -> ASGIApp:
    """``app`` recording each HTTP request that reached a route in ``metrics``."""

    async def record(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method = scope["method"]
        started = time.perf_counter()
        noted = ResponseStatus(send)
        try:
            await app(scope, receive, noted)
        finally:
            route = scope.get(_PATH_TEMPLATE)
            if route is not None:
                metrics.http_request(
                    route=str(route),
                    method=method,
                    status=noted.status,
                    seconds=time.perf_counter() - started,
                )

    return record
