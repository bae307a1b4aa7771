"""Token state of the fake Lark server, on the fake's controllable clock.

Reproduced Lark behaviour (lark-api-reference.md §1):

* app and tenant tokens last 7200 s; asking again while the current token has at least
  30 min left returns the *same* token with ``expire`` = its remaining seconds, with less
  than 30 min left a new 7200 s token is issued and the old one stays valid until its own
  expiry (one "current" token per app, kind and tenant_key);
* authorization codes last 5 min and work once; each refresh_token works once and is
  replaced by a new one.

Choices where Lark's docs are silent: a rotated refresh_token gets a fresh full lifetime;
an ``app_ticket`` is valid for 12 h (the Go SDK keeps it that long) and older tickets stay
valid until then; forced invalidation also revokes the app's refresh tokens.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from lark_service.testing.fake_lark.models import FakeLarkError, TokenInfo
from lark_service.testing.fake_lark.wire import MSG_INVALID_AUTH, MSG_MISSING_AUTH

TOKEN_TTL = 7200
REISSUE_BELOW = 1800
CODE_TTL = 300
TICKET_TTL = 12 * 3600
PREFIX = {"tenant": "t-", "app": "a-", "user": "u-"}
INVALID_CODES = {"t-": 99991663, "a-": 99991664, "u-": 99991668}


@dataclass(slots=True)
class IssuedToken:
    info: TokenInfo
    expires_at: float


@dataclass(slots=True)
class AuthCode:
    app_id: str
    user_id: str
    expires_at: float
    redirect_uri: str | None
    scope: str
    used: bool = False


@dataclass(slots=True)
class RefreshGrant:
    app_id: str
    user_id: str
    tenant_key: str
    expires_at: float
    scope: str
    used: bool = False
    revoked: bool = False


class TokenStore:
    """Issued tokens, authorization codes, refresh tokens and app tickets (thread-safe)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._now = clock
        self.lock = threading.RLock()
        self.tokens: dict[str, IssuedToken] = {}
        self.current: dict[tuple[str, str, str], str] = {}
        self.codes: dict[str, AuthCode] = {}
        self.refresh: dict[str, RefreshGrant] = {}
        self.tickets: dict[str, dict[str, float]] = {}

    def clear(self) -> None:
        with self.lock:
            self.tokens.clear()
            self.current.clear()
            self.codes.clear()
            self.refresh.clear()
            self.tickets.clear()

    def get(self, value: str) -> IssuedToken | None:
        return self.tokens.get(value)

    def authorize(self, header: str, kinds: tuple[str, ...]) -> TokenInfo:
        """The owner of the Bearer token in ``header``, or `FakeLarkError` (HTTP 400):
        missing 99991661; unknown, expired or invalidated tenant 99991663 / app 99991664 /
        user 99991668 (expired user token 99991677); other prefixes 99991671."""
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise FakeLarkError(400, 99991661, MSG_MISSING_AUTH)
        code = INVALID_CODES.get(value[:2], 99991671)
        tok = self.tokens.get(value)
        if tok is None:
            raise FakeLarkError(400, code, MSG_INVALID_AUTH)
        if self._now() >= tok.expires_at:
            code = 99991677 if tok.info.kind == "user" else code
            raise FakeLarkError(400, code, "Authentication token expired. " + MSG_INVALID_AUTH)
        if tok.info.kind not in kinds:
            code = 99991663 if "tenant" in kinds else 99991668 if "user" in kinds else 99991664
            raise FakeLarkError(400, code, f"this API does not accept a {tok.info.kind} token")
        return tok.info

    def issue(self, app_id: str, kind: str, tenant_key: str) -> tuple[str, int]:
        """An app or tenant token under the 30-minute re-issue rule: ``(value, expire)``."""
        now = self._now()
        key = (app_id, kind, tenant_key)
        with self.lock:
            value = self.current.get(key)
            if value is not None:
                tok = self.tokens.get(value)
                if tok is not None and tok.expires_at - now >= REISSUE_BELOW:
                    return value, int(tok.expires_at - now)
            value = PREFIX[kind] + secrets.token_hex(16)
            self.tokens[value] = IssuedToken(
                TokenInfo(app_id, kind, tenant_key, "", value), now + TOKEN_TTL
            )
            self.current[key] = value
            return value, TOKEN_TTL

    def issue_user(
        self,
        app_id: str,
        user_id: str,
        tenant_key: str,
        *,
        expires_in: int,
        refresh_expires_in: int,
        scope: str,
    ) -> dict[str, str | int]:
        """A new user token and refresh token, shaped like the OAuth v2 reply fields."""
        now = self._now()
        access = "u-" + secrets.token_hex(16)
        refresh = "ur-" + secrets.token_hex(16)
        with self.lock:
            self.tokens[access] = IssuedToken(
                TokenInfo(app_id, "user", tenant_key, user_id, access), now + expires_in
            )
            self.refresh[refresh] = RefreshGrant(
                app_id, user_id, tenant_key, now + refresh_expires_in, scope
            )
        return {
            "access_token": access,
            "expires_in": expires_in,
            "refresh_token": refresh,
            "refresh_token_expires_in": refresh_expires_in,
            "token_type": "Bearer",  # nosec B105 - a token type name
            "scope": scope,
        }

    def add_code(
        self, app_id: str, user_id: str, code: str, redirect_uri: str | None, scope: str
    ) -> None:
        with self.lock:
            self.codes[code] = AuthCode(
                app_id, user_id, self._now() + CODE_TTL, redirect_uri, scope
            )

    def new_ticket(self, app_id: str) -> str:
        ticket = "ticket-" + secrets.token_hex(12)
        with self.lock:
            self.tickets.setdefault(app_id, {})[ticket] = self._now() + TICKET_TTL
        return ticket

    def latest_ticket(self, app_id: str) -> str | None:
        with self.lock:
            issued = self.tickets.get(app_id)
            return next(reversed(issued)) if issued else None

    def ticket_valid(self, app_id: str, ticket: str) -> bool:
        expires_at = self.tickets.get(app_id, {}).get(ticket)
        return expires_at is not None and self._now() < expires_at

    def invalidate(self, app_id: str | None) -> None:
        """Every token (and refresh token) of ``app_id``, or of all apps, is invalid now."""
        with self.lock:
            for value in [
                v for v, t in self.tokens.items() if app_id is None or t.info.app_id == app_id
            ]:
                del self.tokens[value]
            for key in [k for k in self.current if app_id is None or k[0] == app_id]:
                del self.current[key]
            for grant in self.refresh.values():
                if app_id is None or grant.app_id == app_id:
                    grant.revoked = True
