"""User grants (OAuth) beyond the token itself: authorization sessions and their states.

A `GrantSession` follows one request for a user's authorization: the signed ``state`` of
the authorization URL names it, the card sent to the user (if any) is updated in place as it
moves from ``pending`` to ``completed``, ``expired`` or ``failed``.
"""

from __future__ import annotations

import enum

import msgspec

__all__ = [
    "AuthorizationLink",
    "GrantExpiry",
    "GrantSession",
    "GrantSessionStatus",
    "GrantStatus",
    "GrantUpkeep",
]


class GrantSessionStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    EXPIRED = "expired"
    FAILED = "failed"


class GrantSession(msgspec.Struct, frozen=True, kw_only=True):
    """One authorization request; ``session_id`` is the nonce inside the signed state.

    ``reason`` says why the session was opened (``requested``, ``expiring``, ``lapsed``) or
    why it failed; it never holds a token or a code.
    """

    session_id: str
    app_id: str
    user_id: str
    status: GrantSessionStatus
    created_at: float
    expires_at: float
    message_id: str = ""
    reason: str = ""
    updated_at: float = 0.0

    @property
    def ended(self) -> bool:
        return self.status is not GrantSessionStatus.PENDING


class AuthorizationLink(msgspec.Struct, frozen=True, kw_only=True):
    """An authorization URL for one user of one app, valid until ``expires_at``."""

    url: str
    app_id: str
    user_id: str
    session_id: str
    expires_at: float


class GrantStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What is known of a user's grant, without its tokens (``granted_at``: `UserToken`'s)."""

    app_id: str
    user_id: str
    authorized: bool
    expires_at: float = 0.0
    refresh_expires_at: float = 0.0
    scope: str = ""
    granted_at: float | None = None


class GrantExpiry(msgspec.Struct, frozen=True, kw_only=True):
    """When a user's refresh token lapses (``0``: it never was given one)."""

    app_id: str
    user_id: str
    refresh_expires_at: float


class GrantUpkeep(msgspec.Struct, frozen=True, kw_only=True):
    """What one upkeep pass did: sessions expired and pruned, users prompted."""

    expired: int
    pruned: int
    prompted: int
