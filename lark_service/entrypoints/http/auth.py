"""Bearer API keys: a guard that checks the scope a route declares in ``opt["scope"]``.

No key (or not a Bearer one) → 401; a key that is unknown or revoked → 401; a valid key
without the route's scope → 403. ``admin`` keys may call every route.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from lark_service.domain.api_keys import ApiKeyScope
from lark_service.entrypoints.http.services import Services

BEARER: dict[str, list[str]] = {"bearer": []}  # the OpenAPI security requirement of a guarded route


def scope(required: ApiKeyScope) -> dict[str, Any]:
    """Route options declaring the scope a caller's key needs."""
    return {"scope": required}


async def require_scope(
    connection: ASGIConnection[Any, Any, Any, Any], route: BaseRouteHandler
) -> None:
    required: ApiKeyScope | None = route.opt.get("scope")
    if required is None:
        return
    services: Services = connection.app.state.services
    scheme, _, key = connection.headers.get("authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise NotAuthorizedException("send an API key: Authorization: Bearer <key>")
    found = await services.keys.authenticate(key)
    if found is None:
        raise NotAuthorizedException("unknown or revoked API key")
    if not found.allows(required):
        raise PermissionDeniedException(f"this API key lacks the {required!r} scope")
