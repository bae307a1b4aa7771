"""Bearer API keys: a hook that checks the scope a route declares in ``opt["scope"]``.

No key (or not a Bearer one) → 401; a key that is unknown or revoked → 401; a valid key
without the route's scope → 403. ``admin`` keys may call every route.

The check is Litestar's ``before_request`` hook, not a guard: it runs at the same point
(after routing, before the body is read or any parameter parsed) but Litestar hands a guard
a copy of the route handler on every call, which cost more than the check itself. The key
is read straight from the ASGI headers, so the check builds no header mapping either.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from lark_service.domain.api_keys import ApiKeyScope
from lark_service.entrypoints.http.services import Services

BEARER: dict[str, list[str]] = {"bearer": []}  # the OpenAPI security requirement of a guarded route
_AUTHORIZATION = b"authorization"


def scope(required: ApiKeyScope) -> dict[str, Any]:
    """Route options declaring the scope a caller's key needs."""
    return {"scope": required}


async def require_scope(request: Request[Any, Any, Any]) -> None:
    """Litestar ``before_request`` hook: returns nothing, so the handler runs when it passes."""
    asgi = request.scope
    required: ApiKeyScope | None = asgi["route_handler"].opt.get("scope")
    if required is None:
        return
    scheme, _, key = _authorization(asgi["headers"]).partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise NotAuthorizedException("send an API key: Authorization: Bearer <key>")
    services: Services = asgi["litestar_app"].state.services
    found = await services.keys.authenticate(key)
    if found is None:
        raise NotAuthorizedException("unknown or revoked API key")
    if not found.allows(required):
        raise PermissionDeniedException(f"this API key lacks the {required!r} scope")


def _authorization(headers: Any) -> str:
    """The first ``Authorization`` header's value, or ``""`` (ASGI header names are lower case)."""
    for name, value in headers:
        if name == _AUTHORIZATION:
            return str(value.decode("latin-1"))
    return ""
