"""Typed errors, mapped from Lark's ``{code, msg}`` replies and from our own policies.

    LarkServiceError                  every error this package raises
    ├── ConfigError                   bad configuration or bad input caught before a call
    ├── StoreError                    the credential store failed
    ├── AppResolutionError            no app, or a bad app, was chosen for a call
    │   ├── UnknownAppError
    │   ├── AppDisabledError
    │   └── NoAppResolvedError
    ├── TransportError                the network failed (connect, reset, timeout)
    │   └── CallTimeoutError          the caller's deadline (``timeout=``) expired; also a
    │                                 builtin ``TimeoutError``
    └── LarkAPIError                  Lark answered with a non-zero code
        ├── AuthError                 app credentials rejected (bad secret, app_ticket, ...)
        │   └── TokenInvalidError     the access token was rejected: refresh and retry once
        ├── RateLimitedError          99991400 / HTTP 429; carries ``retry_after``
        ├── PermissionDeniedError     missing scope, 403, bot not in chat
        │   └── UserNotAuthorizedError  the user has not (or no longer) authorized the app
        │       └── UserAuthorizationRequired  no usable grant: the user must authorize again
        ├── NotFoundError
        ├── BadRequestError
        └── ServerError               5xx or Lark internal error

Every error carries ``code``, ``msg``, ``log_id``, ``http_status``, ``app_id`` and ``api``;
an error of a message send or reply also carries ``uuid``, the dedup uuid the send used: a
retry with ``uuid=exc.uuid`` within the hour cannot store the message twice.
No error ever holds a secret or an access token.
"""

from __future__ import annotations

from typing import Any


class LarkServiceError(Exception):
    """Base of every error raised by lark-service."""

    default_code = -1

    def __init__(
        self,
        msg: str,
        *,
        code: int | None = None,
        log_id: str = "",
        http_status: int = 0,
        app_id: str = "",
        api: str = "",
        details: Any = None,
    ) -> None:
        self.msg = msg
        self.code = self.default_code if code is None else code
        self.log_id = log_id
        self.http_status = http_status
        self.app_id = app_id
        self.api = api
        self.details = details
        # the dedup uuid of the send that failed ("" when the call was not a send)
        self.uuid = ""
        super().__init__(msg)

    def __str__(self) -> str:
        parts = [self.msg]
        if self.code not in (-1, 0):
            parts.append(f"code={self.code}")
        if self.app_id:
            parts.append(f"app_id={self.app_id}")
        if self.api:
            parts.append(f"api={self.api}")
        if self.http_status:
            parts.append(f"http_status={self.http_status}")
        if self.log_id:
            parts.append(f"log_id={self.log_id}")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self!s})"


class ConfigError(LarkServiceError):
    """Invalid configuration or input, detected before anything is sent."""


class StoreError(LarkServiceError):
    """The credential store could not read or write."""


class AppResolutionError(LarkServiceError):
    """No usable app could be chosen for a call."""


class UnknownAppError(AppResolutionError):
    """An app_id was named that the pool does not know."""


class AppDisabledError(AppResolutionError):
    """An app_id was named whose app is disabled."""


class NoAppResolvedError(AppResolutionError):
    """Nothing named an app and no default could be determined."""


class TransportError(LarkServiceError):
    """Connecting to Lark failed, the connection dropped, or the call timed out."""


class CallTimeoutError(TransportError, TimeoutError):
    """The call did not finish within its deadline (``timeout=`` or the pool's default).

    Lark may still have executed it: retry a send with ``uuid=exc.uuid``."""


class LarkAPIError(LarkServiceError):
    """Lark answered with a non-zero ``code``."""


class AuthError(LarkAPIError):
    """Lark rejected the app's credentials."""


class TokenInvalidError(AuthError):
    """The access token used was invalid or expired."""


class RateLimitedError(LarkAPIError):
    """Lark's frequency control triggered; wait ``retry_after`` seconds."""

    def __init__(self, msg: str, *, retry_after: float = 1.0, **kw: Any) -> None:
        super().__init__(msg, **kw)
        self.retry_after = retry_after


class PermissionDeniedError(LarkAPIError):
    """The app or user lacks a scope or access to the resource."""


class UserNotAuthorizedError(PermissionDeniedError):
    """No valid user_access_token: the user has not authorized the app (or revoked it)."""


class UserAuthorizationRequired(UserNotAuthorizedError):
    """The grant of ``user_id`` for ``app_id`` is missing, revoked or expired.

    Raised at once (never retried): only the user can fix it, by authorizing the app again.
    ``reason`` is ``missing``, ``expired`` or ``refused`` (Lark rejected the refresh token).
    """

    def __init__(self, msg: str, *, user_id: str, reason: str, **kw: Any) -> None:
        super().__init__(msg, **kw)
        self.user_id = user_id
        self.reason = reason


class NotFoundError(LarkAPIError):
    """The resource does not exist."""


class BadRequestError(LarkAPIError):
    """Lark rejected the request's parameters."""


class ServerError(LarkAPIError):
    """Lark failed internally (5xx)."""


# Lark codes whose meaning is certain (see lark-api-reference.md §2); others fall back to
# the HTTP status.
TOKEN_INVALID_CODES = frozenset({99991661, 99991663, 99991664, 99991668, 99991671, 99991677})
RATE_LIMIT_CODES = frozenset({99991400, 230020})
PERMISSION_CODES = frozenset(
    {99991672, 99991679, 230027, 230002, 230035, 230053, 1254302, 232010, 232011, 232033, 40004}
    | {1770032, 1061004, 91403, 1063002, 230012, 230026}
)
AUTH_CODES = frozenset({10003, 10012, 10014, 99991543})
NOT_FOUND_CODES = frozenset(
    {1254040, 1254041, 1254043, 1770002, 1061003, 1061007, 40015, 41050, 232006}
    | {91402, 90215, 1063005, 230011, 230110}
)


def error_from_reply(
    *,
    code: int,
    msg: str,
    http_status: int,
    log_id: str = "",
    app_id: str = "",
    api: str = "",
    retry_after: float | None = None,
    details: Any = None,
) -> LarkAPIError:
    """Build the typed error for a Lark reply ``{code, msg}`` received with ``http_status``."""
    kw: dict[str, Any] = {
        "code": code,
        "log_id": log_id,
        "http_status": http_status,
        "app_id": app_id,
        "api": api,
        "details": details,
    }
    if code in TOKEN_INVALID_CODES:
        return TokenInvalidError(msg, **kw)
    if code in RATE_LIMIT_CODES or http_status == 429:
        return RateLimitedError(msg, retry_after=retry_after or 1.0, **kw)
    if code in AUTH_CODES or http_status == 401:
        return AuthError(msg, **kw)
    if code in PERMISSION_CODES or http_status == 403:
        return PermissionDeniedError(msg, **kw)
    if code in NOT_FOUND_CODES or http_status == 404:
        return NotFoundError(msg, **kw)
    if http_status >= 500:
        return ServerError(msg, **kw)
    return BadRequestError(msg, **kw)
