"""API keys: create (shown once), list, revoke, authenticate, provision from the environment.

Keys are ``lks_`` + 43 URL-safe characters (256 random bits); the store keeps their SHA-256
digest only (see `lark_service.domain.api_keys` for why a fast hash is right here).
Authentication caches a found key for ``cache_ttl`` seconds so a busy route does not read
the store on every request; a revocation made elsewhere takes effect within that time. When
the entry expires, the requests in flight with that key share one store lookup instead of
each making its own.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable

import msgspec

from lark_service.domain.api_keys import KEY_PREFIX, SCOPES, ApiKey, ApiKeyScope, hash_api_key
from lark_service.domain.errors import ConfigError, NotFoundError
from lark_service.domain.ports.api_keys import ApiKeyStore
from lark_service.domain.ports.clock import Clock

ADMIN_KEY_ENV = "LARK_SERVICE_ADMIN_KEY"
MIN_PROVIDED_KEY_LENGTH = 24  # a provided key is only as strong as its length


class CreatedApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """A key just created: ``key`` is shown this once and never stored."""

    key: str
    key_id: str
    scopes: tuple[ApiKeyScope, ...]
    name: str = ""


def check_scopes(scopes: Iterable[str]) -> tuple[ApiKeyScope, ...]:
    """The scopes, deduplicated in order; `ConfigError` naming an unknown one."""
    out: list[ApiKeyScope] = []
    for scope in scopes:
        if scope not in SCOPES:
            raise ConfigError(f"unknown scope {scope!r}: expected one of {', '.join(SCOPES)}")
        if scope not in out:
            out.append(scope)  # type: ignore[arg-type]  # checked against SCOPES above
    if not out:
        raise ConfigError("give at least one scope")
    return tuple(out)


class ApiKeyService:
    """The API-key use cases over an `ApiKeyStore`."""

    def __init__(self, store: ApiKeyStore, *, clock: Clock, cache_ttl: float = 10.0) -> None:
        self.store = store
        self.clock = clock
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, ApiKey]] = {}
        self._lookups: dict[str, asyncio.Future[ApiKey | None]] = {}  # by digest, in flight
        self._revocations = 0  # a lookup begun before a revocation must not fill the cache

    async def create(self, scopes: Iterable[str], *, name: str = "") -> CreatedApiKey:
        """A new random key with ``scopes``."""
        return await self._create(
            KEY_PREFIX + secrets.token_urlsafe(32), check_scopes(scopes), name
        )

    async def ensure(self, key: str, scopes: Iterable[str] = ("admin",), *, name: str = "") -> bool:
        """Store ``key`` (a value chosen by an operator) unless it exists; ``True`` if added."""
        if len(key) < MIN_PROVIDED_KEY_LENGTH:
            raise ConfigError(f"the API key must be at least {MIN_PROVIDED_KEY_LENGTH} characters")
        if await self.store.find_key(hash_api_key(key)) is not None:
            return False
        await self._create(key, check_scopes(scopes), name)
        return True

    async def list(self) -> list[ApiKey]:
        return sorted(await self.store.list_keys(), key=lambda k: (k.created_at, k.key_id))

    async def revoke(self, key_id: str) -> None:
        """`NotFoundError` if there is no such key."""
        if not await self.store.revoke_key(key_id, revoked_at=self.clock.now()):
            raise NotFoundError(f"no API key {key_id!r}", code=-1)
        self._revocations += 1
        self._lookups.clear()  # the callers already waiting keep theirs; new ones look again
        self._cache = {h: v for h, v in self._cache.items() if v[1].key_id != key_id}

    async def authenticate(self, key: str) -> ApiKey | None:
        """The live key presented as ``key``, or ``None`` (unknown or revoked)."""
        key_hash = hash_api_key(key)
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > self.clock.now():
            return cached[1]
        lookup = self._lookups.get(key_hash)
        if lookup is None:
            lookup = self._lookups[key_hash] = asyncio.ensure_future(self._look_up(key_hash))
            lookup.add_done_callback(lambda done: self._lookup_done(key_hash, done))
        # shielded: a caller that gives up does not cancel the lookup the others wait for
        return await asyncio.shield(lookup)

    async def _look_up(self, key_hash: str) -> ApiKey | None:
        revocations = self._revocations
        found = await self.store.find_key(key_hash)
        if revocations != self._revocations:
            return found if found is not None and not found.revoked else None
        if found is None or found.revoked:
            self._cache.pop(key_hash, None)
            return None
        if len(self._cache) > 10_000:  # bounded: keys are few, garbage is not cached
            self._cache.clear()
        self._cache[key_hash] = (self.clock.now() + self.cache_ttl, found)
        return found

    def _lookup_done(self, key_hash: str, done: asyncio.Future[ApiKey | None]) -> None:
        if self._lookups.get(key_hash) is done:
            del self._lookups[key_hash]
        if not done.cancelled():
            done.exception()  # retrieved: the callers that still wait have it raised

    async def _create(self, key: str, scopes: tuple[ApiKeyScope, ...], name: str) -> CreatedApiKey:
        record = ApiKey(
            key_id=secrets.token_hex(8),
            key_hash=hash_api_key(key),
            scopes=scopes,
            name=name,
            created_at=self.clock.now(),
        )
        await self.store.save_key(record)
        return CreatedApiKey(key=key, key_id=record.key_id, scopes=scopes, name=name)
