"""``/v1/events/{app_id}`` and ``/v1/cards/{app_id}``: the URLs Lark pushes to.

Lark calls these, not our users, so they take no API key: a push is authenticated by the
app's encrypt key (``X-Lark-Signature``, AES-encrypted bodies) and verification token
(`lark_service.adapters.lark_events`). Set the first as the app's event subscription request
URL and the second as its card callback URL; both accept every kind of push (Lark lets one
URL serve both). A refused push is answered 400/401/403 as problem+json and nothing of it is
stored or published; a failed publish is a 5xx, so Lark delivers the push again.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, Router, post
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK

from lark_service.adapters.lark_events import PushHeaders, open_push
from lark_service.domain.events import EventRejectedError
from lark_service.entrypoints.http.problems import (
    TYPE_BASE,
    Problem,
    problem_response,
    problem_responses,
)
from lark_service.entrypoints.http.services import ServicesDep

log = logging.getLogger("lark_service.http.events")

ERRORS = problem_responses(400, 401, 403, 404, 413, 503, 504)


def rejected_handler(_: Request[Any, Any, Any], exc: EventRejectedError) -> Response[Any]:
    name = type(exc).__name__
    log.info("refused a push to %s: %s", exc.app_id or "?", name)
    problem = Problem(
        type=TYPE_BASE + name,
        title=name,
        status=exc.status,
        detail=exc.msg,
        error=name,
        app_id=exc.app_id or None,
    )
    return problem_response(problem)


async def _receive(services: ServicesDep, app_id: str, request: Request[Any, Any, Any]) -> Any:
    app = services.pool.apps.get(app_id)  # UnknownAppError: 404
    headers = PushHeaders(
        timestamp=request.headers.get("x-lark-request-timestamp", ""),
        nonce=request.headers.get("x-lark-request-nonce", ""),
        signature=request.headers.get("x-lark-signature", ""),
    )
    try:
        event = open_push(app, await request.body(), headers, now=services.pool.clock.now())
    except EventRejectedError as exc:
        # the app id is a known app's (looked up above); the type is unknown: nothing read
        # from an unverified body becomes a label
        reason = type(exc).__name__
        services.events.metrics.event_rejected(app_id=app_id, event_type="unknown", reason=reason)
        raise
    return await services.events.accept(app_id, event)


@post(
    "/events/{app_id:str}",
    status_code=HTTP_200_OK,
    responses=ERRORS,
    summary="Lark's event subscription URL (called by Lark; no API key)",
)
async def receive_event(
    services: ServicesDep, app_id: FromPath[str], request: Request[Any, Any, Any]
) -> dict[str, Any]:
    """Answers ``url_verification``; stores ``app_ticket``; publishes every other event on
    the event bus as ``<app_id>.<event_type>``, once per ``event_id``."""
    reply: dict[str, Any] = await _receive(services, app_id, request)
    return reply


@post(
    "/cards/{app_id:str}",
    status_code=HTTP_200_OK,
    responses=ERRORS,
    summary="Lark's card callback URL (called by Lark; no API key)",
)
async def receive_card_action(
    services: ServicesDep, app_id: FromPath[str], request: Request[Any, Any, Any]
) -> dict[str, Any]:
    """Answers with the card or toast of the app's registered card handler (``{}`` without
    one, or when it is late)."""
    reply: dict[str, Any] = await _receive(services, app_id, request)
    return reply


ROUTES = [
    Router(
        "/v1",
        route_handlers=[receive_event, receive_card_action],
        exception_handlers={EventRejectedError: rejected_handler},
        tags=["lark pushes"],
    )
]
