"""`create_app`: the ASGI app of the HTTP API, on Litestar.

Litestar decodes and validates request bodies with msgspec (the Structs our domain already
uses), so a bad body is a 400/422 naming the field before any handler runs, and it writes
the OpenAPI 3.1 spec from the same types. Everything the routes need comes in through
``services``: tests pass in-memory adapters and the fake Lark server, the service its real
ones.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from lark_service.domain.errors import LarkServiceError
from lark_service.entrypoints.http import (
    health,
    routes_apps,
    routes_directory,
    routes_docs,
    routes_events,
    routes_grants,
    routes_messages,
)
from lark_service.entrypoints.http.auth import require_scope
from lark_service.entrypoints.http.console import console_router, template_config
from lark_service.entrypoints.http.metrics import record_requests
from lark_service.entrypoints.http.problems import (
    http_error_handler,
    internal_error_handler,
    lark_error_handler,
)
from lark_service.entrypoints.http.services import Services
from lark_service.entrypoints.http.tracing import tracing_middleware

API_VERSION = "1"


def create_app(services: Services, *, debug: bool = False) -> Litestar:
    """The HTTP API over ``services``; the caller owns (opens and closes) what they hold."""

    def provide_services() -> Services:
        return services

    openapi = OpenAPIConfig(
        title="lark-service",
        version=API_VERSION,
        description=(
            "Many Lark (Feishu) apps behind one HTTP API. Authenticate with "
            "`Authorization: Bearer <API key>`; errors are RFC 9457 problem details."
        ),
        path="/",
        render_plugins=[SwaggerRenderPlugin(path="/docs")],
        components=Components(
            security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
        ),
    )
    exception_handlers: dict[int | type[Exception], Any] = {
        LarkServiceError: lark_error_handler,
        HTTPException: http_error_handler,
        Exception: internal_error_handler,
    }
    tracer = services.pool.tracer
    app = Litestar(
        route_handlers=[
            *health.ROUTES,
            *routes_messages.ROUTES,
            *routes_directory.ROUTES,
            *routes_docs.ROUTES,
            *routes_apps.ROUTES,
            *routes_events.ROUTES,
            *routes_grants.ROUTES,
            console_router(services),
        ],
        dependencies={"services": Provide(provide_services, sync_to_thread=False)},
        before_request=require_scope,
        # no route middleware at all when tracing is off: any would make Litestar add an
        # exception-handling layer around every handler
        middleware=[tracing_middleware(tracer)] if tracer.enabled else [],
        exception_handlers=exception_handlers,
        openapi_config=openapi,
        template_config=template_config(),
        state=State({"services": services}),
        request_max_body_size=services.max_body_size,
        debug=debug,
    )
    app.asgi_handler = record_requests(app.asgi_handler, services.pool.metrics)
    return app
