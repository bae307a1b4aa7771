"""API keys of the HTTP service: who may call which routes.

A key is a random string shown once at creation; only its SHA-256 digest is stored. A fast
hash is enough because the key has 256 bits of entropy: no guessing attack gains anything
from a slow hash (slow hashes protect low-entropy passwords), and a digest can be looked up
by index on every request at no measurable cost.
"""

from __future__ import annotations

import hashlib
from typing import Literal, get_args

import msgspec

ApiKeyScope = Literal["send", "read", "admin"]
SCOPES: tuple[str, ...] = get_args(ApiKeyScope)

# a key value that identifies itself in logs and secret scanners without revealing anything
KEY_PREFIX = "lks_"


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """A stored API key: its id, digest and scopes (never the key itself).

    ``admin`` implies ``send`` and ``read``.
    """

    key_id: str
    key_hash: str
    scopes: tuple[ApiKeyScope, ...]
    name: str = ""
    created_at: float = 0.0
    revoked_at: float | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def allows(self, scope: ApiKeyScope) -> bool:
        """Whether this key may call a route that needs ``scope``."""
        return not self.revoked and (scope in self.scopes or "admin" in self.scopes)


def hash_api_key(key: str) -> str:
    """The hex SHA-256 digest stored for ``key``."""
    return hashlib.sha256(key.encode()).hexdigest()
