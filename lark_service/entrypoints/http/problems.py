"""RFC 9457 problem details for every error the API answers.

Typed errors keep their class name (``error``) and, when they came from Lark, Lark's
``code``, ``msg`` and ``log_id``. No response carries a traceback or a secret: unexpected
exceptions are logged and answered with a bare 500.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from lark_service.domain.errors import (
    AppDisabledError,
    AuthError,
    ConfigError,
    LarkAPIError,
    LarkServiceError,
    NoAppResolvedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    StoreError,
    TransportError,
    UnknownAppError,
)

log = logging.getLogger("lark_service.http")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:lark-service:problem:"


class FieldProblem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One invalid part of a request: where (``field``) and what is wrong with it."""

    message: str
    field: str | None = None
    source: str | None = None


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``application/problem+json`` (RFC 9457) with lark-service's extensions."""

    type: str
    title: str
    status: int
    detail: str | None = None
    error: str | None = None  # the typed error's class, e.g. "RateLimitedError"
    code: int | None = None  # Lark's code (Lark errors only)
    msg: str | None = None  # Lark's msg
    log_id: str | None = None  # Lark's log id, for Lark support
    app_id: str | None = None
    api: str | None = None
    errors: list[FieldProblem] | None = None


# Most specific first: the first matching class decides the status.
_STATUS: tuple[tuple[type[LarkServiceError], int], ...] = (
    (UnknownAppError, 404),
    (AppDisabledError, 409),
    (NoAppResolvedError, 422),
    (ConfigError, 422),
    (RateLimitedError, 429),
    (AuthError, 502),  # the app's own credentials were rejected: not the caller's fault
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ServerError, 502),
    (TransportError, 504),
    (StoreError, 503),
    (LarkAPIError, 400),
)


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries saying that these statuses answer with a `Problem`."""
    return {
        status: ResponseSpec(
            Problem,
            description=_TITLES.get(status, "Error"),
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in statuses
    }


def status_for(exc: LarkServiceError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        content=problem, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers
    )


def lark_error_handler(_: Request[Any, Any, Any], exc: LarkServiceError) -> Response[Any]:
    status = status_for(exc)
    name = type(exc).__name__
    from_lark = isinstance(exc, LarkAPIError) and exc.code not in (-1, -2)
    problem = Problem(
        type=TYPE_BASE + name,
        title=name,
        status=status,
        detail=exc.msg,
        error=name,
        code=exc.code if from_lark else None,
        msg=exc.msg if from_lark else None,
        log_id=exc.log_id or None,
        app_id=exc.app_id or None,
        api=exc.api or None,
    )
    headers = None
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
    if status >= 500:
        log.warning("%s %s", status, exc)
    return problem_response(problem, headers)


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    errors: list[FieldProblem] | None = None
    if isinstance(exc, ValidationException):
        errors = _field_problems(exc.extra)
        # a body that decoded but has a bad field is 422; one that does not decode is 400
        if errors and any(e.field for e in errors):
            status = 422
    title = _TITLES.get(status, "Error")
    problem = Problem(
        type=TYPE_BASE + title.title().replace(" ", ""),
        title=title,
        status=status,
        detail=_detail(exc, errors),
        errors=errors,
    )
    headers = dict(exc.headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return problem_response(problem, headers or None)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return problem_response(
        Problem(type=TYPE_BASE + "InternalError", title="Internal error", status=500)
    )


def _detail(exc: HTTPException, errors: list[FieldProblem] | None) -> str:
    if errors:
        return "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)
    return str(exc.detail)


def _field_problems(extra: Any) -> list[FieldProblem] | None:
    if not isinstance(extra, list):
        return None
    out = []
    for item in extra:
        if isinstance(item, dict) and "message" in item:
            key = item.get("key")
            if item.get("source") == "body":
                key = _body_field(str(item["message"])) or key
            out.append(
                FieldProblem(
                    message=str(item["message"]),
                    field=str(key) if key else None,
                    source=str(item.get("source")) if item.get("source") else None,
                )
            )
    return out or None


# msgspec names the field in its message: "... field `x`" or "... - at `$.x.y`"
_AT_PATH = re.compile(r"at `\$\.?([^`]*)`")
_MISSING = re.compile(r"field `([^`]+)`")


def _body_field(message: str) -> str | None:
    """The body field a msgspec validation message is about (``a.b[0].c``)."""
    at, missing = _AT_PATH.search(message), _MISSING.search(message)
    path = at.group(1) if at else ""
    if missing is not None and ("missing required" in message or "unknown field" in message):
        return f"{path}.{missing.group(1)}" if path else missing.group(1)
    return path or None


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}
