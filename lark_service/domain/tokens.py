"""Access tokens Lark issues, and the key that names one in a cache."""

from __future__ import annotations

import enum

import msgspec


class TokenKind(enum.StrEnum):
    """Lark's three token kinds (`t-`, `a-`, `u-` prefixes on the wire)."""

    TENANT = "tenant"
    APP = "app"
    USER = "user"


class TokenKey(msgspec.Struct, frozen=True, kw_only=True):
    """Identifies one token: per app, kind, and tenant_key (marketplace) or user."""

    app_id: str
    kind: TokenKind
    tenant_key: str = ""
    user_id: str = ""

    def as_str(self) -> str:
        return f"{self.app_id}:{self.kind.value}:{self.tenant_key}:{self.user_id}"


class AccessToken(msgspec.Struct, frozen=True, kw_only=True):
    """An issued token. `expires_at` is a clock timestamp in seconds; `value` is never shown."""

    kind: TokenKind
    value: str
    expires_at: float
    app_id: str = ""
    tenant_key: str = ""

    def remaining(self, now: float) -> float:
        return self.expires_at - now

    def __repr__(self) -> str:
        return (
            f"AccessToken(kind={self.kind.value!r}, app_id={self.app_id!r}, "
            f"tenant_key={self.tenant_key!r}, expires_at={self.expires_at}, value='***')"
        )

    __str__ = __repr__


class UserToken(msgspec.Struct, frozen=True, kw_only=True):
    """A user's OAuth grant: access token plus the single-use, rotating refresh token.

    ``granted_at`` is when the user authorized the app (clock seconds). ``None`` on a refreshed
    token: saving it keeps the time the store has; ``None`` from a store: not known (a grant
    kept before the time was recorded).
    """

    app_id: str
    user_id: str
    access_token: str
    expires_at: float
    refresh_token: str = ""
    refresh_expires_at: float = 0.0
    scope: str = ""
    granted_at: float | None = None

    def __repr__(self) -> str:
        return (
            f"UserToken(app_id={self.app_id!r}, user_id={self.user_id!r}, "
            f"expires_at={self.expires_at}, refresh_expires_at={self.refresh_expires_at}, "
            f"granted_at={self.granted_at}, access_token='***', refresh_token='***')"
        )

    __str__ = __repr__
