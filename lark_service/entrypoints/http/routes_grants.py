"""User grants (OAuth): authorization links and cards, the redirect route, status, revoke.

``GET /v1/oauth/callback`` is where Lark sends the user's browser back: it takes no API key
(the signed ``state`` is its authentication) and answers a small HTML page. The other routes
act for a user on an API key's behalf: ``send`` to ask for or revoke a grant, ``read`` to
see whether one exists. No response carries a token or a code.
"""

from __future__ import annotations

import html
import logging
from typing import Annotated, Any

import msgspec
from litestar import MediaType, Request, Response, Router, delete, get, post
from litestar.exceptions import ServiceUnavailableException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from lark_service.application.usecases.grants import DEFAULT_SCOPE, GrantService
from lark_service.domain.errors import ConfigError, LarkServiceError, UserNotAuthorizedError
from lark_service.domain.grants import (
    AuthorizationLink,
    GrantSession,
    GrantStatus,
    GrantUpkeep,
)
from lark_service.entrypoints.http.auth import BEARER, scope
from lark_service.entrypoints.http.problems import problem_responses, status_for
from lark_service.entrypoints.http.services import Services, ServicesDep

log = logging.getLogger("lark_service.http.grants")

ERRORS = problem_responses(400, 401, 403, 404, 422, 502, 503)
CALLBACK_PATH = "/v1/oauth/callback"
# the callback answers a browser: an HTML page in every outcome
CALLBACK_PAGES = {
    status: ResponseSpec(str, description=text, media_type=MediaType.HTML, generate_examples=False)
    for status, text in (
        (400, "Declined, or a bad or expired link"),
        (403, "Lark refused the code, or another user approved the link"),
        (422, "Bad input"),
        (429, "Lark rate-limited the exchange"),
        (502, "Lark failed"),
        (503, "Grants are not configured, or the store is unavailable"),
        (504, "Lark did not answer in time"),
    )
}


class GrantRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which app to authorize, and optionally where Lark sends the browser back."""

    app_id: str | None = None
    redirect_uri: str | None = None
    scope: str = DEFAULT_SCOPE


def _grants(services: Services) -> GrantService:
    if services.grants is None:
        raise ServiceUnavailableException("user grants are not configured in this service")
    return services.grants


def _redirect_uri(grants: GrantService, given: str | None, request: Request[Any, Any, Any]) -> str:
    if given:
        return given
    if grants.redirect_uri:
        return grants.redirect_uri
    # no configured public URL: the address this request reached the service at
    return str(request.base_url).rstrip("/") + CALLBACK_PATH


def _page(status: int, title: str, text: str) -> Response[str]:
    t, x = html.escape(title), html.escape(text)
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{t}</title></head>"
        f"<body><h1>{t}</h1><p>{x}</p></body></html>"
    )
    return Response(
        body,
        status_code=status,
        media_type=MediaType.HTML,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@get(
    CALLBACK_PATH,
    media_type=MediaType.HTML,
    responses=CALLBACK_PAGES,
    summary="Lark's OAuth redirect: exchange the code, keep the grant",
)
async def oauth_callback(
    services: ServicesDep,
    oauth_state: Annotated[str, QueryParameter(name="state")] = "",
    code: FromQuery[str] = "",
    error: FromQuery[str] = "",
) -> Response[str]:
    grants = services.grants
    if grants is None:
        return _page(503, "Authorization unavailable", "User grants are not configured.")
    try:
        if error:
            await grants.deny(oauth_state, error)
            return _page(400, "Authorization declined", "The app was not authorized.")
        status = await grants.complete(code, oauth_state)
    except ConfigError as exc:
        return _page(400, "Authorization failed", exc.msg)
    except LarkServiceError as exc:
        log.info("an OAuth callback failed: %s (code %s)", type(exc).__name__, exc.code)
        http_status = status_for(exc)
        if http_status not in CALLBACK_PAGES:
            http_status = 400 if http_status < 500 else 502
        text = exc.msg if isinstance(exc, UserNotAuthorizedError) else "Lark failed; try again."
        return _page(http_status, "Authorization failed", text)
    return _page(
        HTTP_200_OK,
        "Authorization done",
        f"The app {status.app_id} is authorized. You can close this page.",
    )


@post(
    "/{user_id:str}/grant/authorize-url",
    responses=ERRORS,
    status_code=HTTP_200_OK,
    summary="An authorization link for the user (opens a pending session)",
    opt=scope("send"),
)
async def authorize_url(
    services: ServicesDep,
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    data: JSONBody[GrantRequest],
) -> AuthorizationLink:
    grants = _grants(services)
    redirect = _redirect_uri(grants, data.redirect_uri, request)
    link, _ = await grants.begin(data.app_id, user_id, redirect, scope=data.scope)
    return link


@post(
    "/{user_id:str}/grant/request",
    responses=ERRORS,
    status_code=HTTP_200_OK,
    summary="Send the user a card with the authorization link (one per pending session)",
    opt=scope("send"),
)
async def request_authorization(
    services: ServicesDep,
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    data: JSONBody[GrantRequest],
) -> GrantSession:
    grants = _grants(services)
    return await grants.request_user_authorization(
        user_id,
        app_id=data.app_id,
        redirect_uri=_redirect_uri(grants, data.redirect_uri, request),
        scope=data.scope,
    )


@get(
    "/{user_id:str}/grant",
    responses=ERRORS,
    summary="Whether the user has a grant, and until when (never the tokens)",
    opt=scope("read"),
)
async def grant_status(
    services: ServicesDep, user_id: FromPath[str], app_id: FromQuery[str | None] = None
) -> GrantStatus:
    return await _grants(services).status(app_id, user_id)


@delete(
    "/{user_id:str}/grant",
    responses=ERRORS,
    summary="Revoke the user's grant",
    opt=scope("send"),
)
async def revoke_grant(
    services: ServicesDep, user_id: FromPath[str], app_id: FromQuery[str | None] = None
) -> None:
    await _grants(services).revoke(app_id, user_id)


@post(
    "/v1/grants/upkeep",
    responses=ERRORS,
    status_code=HTTP_200_OK,
    summary="Expire and prune authorization sessions; prompt users whose grant lapses soon",
    opt=scope("admin"),
    security=[BEARER],
    tags=["grants"],
)
async def grant_upkeep(services: ServicesDep) -> GrantUpkeep:
    return await _grants(services).upkeep()


ROUTES: list[HTTPRouteHandler | Router] = [
    grant_upkeep,
    oauth_callback,
    Router(
        "/v1/users",
        route_handlers=[authorize_url, request_authorization, grant_status, revoke_grant],
        security=[BEARER],
        tags=["grants"],
    ),
]
