"""The signed ``state`` of an OAuth authorization URL, and the PKCE pair derived from it.

The state binds the app, the user, the session, the redirect URI and an expiry under an
HMAC-SHA256 of a server key, so the callback trusts nothing the browser brings back
unsigned. The PKCE ``code_verifier`` is derived from the same key and the session id: it is
never stored and never leaves the server, and any replica holding the key recomputes it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import msgspec

from lark_service.domain.errors import ConfigError

__all__ = ["GrantState", "GrantStateSigner", "code_challenge"]

_VERSION = 1
_MIN_SECRET = 16


class GrantState(msgspec.Struct, frozen=True, array_like=True):
    """What a state vouches for (encoded as a compact JSON array)."""

    version: int
    app_id: str
    user_id: str
    session_id: str
    expires_at: float
    redirect_uri: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def code_challenge(verifier: str) -> str:
    """PKCE ``S256``: base64url(SHA-256(verifier)) without padding (RFC 7636 §4.2)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


class GrantStateSigner:
    """Signs and checks states; ``secret`` is a server secret shared by the replicas.

    A purpose-bound key is derived from it, so the secret that also encrypts data at rest is
    never used directly as a MAC key.
    """

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else bytes(secret)
        if len(raw) < _MIN_SECRET:
            raise ConfigError(f"secret: the OAuth state key needs at least {_MIN_SECRET} bytes")
        self._key = hmac.new(raw, b"lark-service/oauth-state/v1", hashlib.sha256).digest()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key='***')"

    def _mac(self, purpose: bytes, data: bytes) -> bytes:
        return hmac.new(self._key, purpose + b"\x00" + data, hashlib.sha256).digest()

    def sign(
        self, *, app_id: str, user_id: str, session_id: str, expires_at: float, redirect_uri: str
    ) -> str:
        body = _b64(
            msgspec.json.encode(
                GrantState(_VERSION, app_id, user_id, session_id, expires_at, redirect_uri)
            )
        )
        return body + "." + _b64(self._mac(b"state", body.encode("ascii")))

    def verify(self, state: str) -> GrantState:
        """The state's content if its signature holds (expiry is the caller's to check)."""
        body, dot, mac = state.partition(".")
        if not dot or not body or not mac:
            raise ConfigError("state: not a state this service issued")
        try:
            given = _unb64(mac)
            expected = self._mac(b"state", body.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ConfigError("state: not a state this service issued") from None
        if not hmac.compare_digest(given, expected):
            raise ConfigError("state: the signature does not match (tampered or foreign)")
        try:
            decoded = msgspec.json.decode(_unb64(body), type=GrantState)
        except (ValueError, msgspec.DecodeError):
            raise ConfigError("state: malformed content") from None
        if decoded.version != _VERSION:
            raise ConfigError(f"state: unsupported version {decoded.version}")
        return decoded

    def code_verifier(self, session_id: str) -> str:
        """The PKCE verifier of a session: 43 base64url characters (RFC 7636 §4.1)."""
        return _b64(self._mac(b"pkce", session_id.encode()))
