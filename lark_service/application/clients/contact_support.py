"""The shared part of `ContactClient`: its per-app TTL cache, paged GETs and query checks.

Lark answers some "not found" and "no access" cases with HTTP 400 and an area code;
``lark_service.domain.errors`` maps them: 41050 "no user authority" (Lark gives it both for an
unknown
user and for one outside the app's contact scope; the docs do not tell them apart, so it is
`NotFoundError`), 40015 "department not exist" and 232006 "invalid chat_id" are
`NotFoundError`; 232010 / 232011 / 232033 (other tenant, bot not in the chat, external
chat) are `PermissionDeniedError`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from lark_service.application.base_client import BaseServiceClient
from lark_service.application.pool import CredentialPool
from lark_service.domain.errors import ConfigError
from lark_service.domain.models.common import Page, check_page_size
from lark_service.domain.models.contact import (
    DEPARTMENT_ID_TYPES,
    USER_ID_TYPES,
    check_choice,
    check_id,
)
from lark_service.domain.ports.transport import LarkTransport

T = TypeVar("T")
P = TypeVar("P", bound=Page[Any])

CACHE_MAX_ENTRIES = 10_000


def next_token(page: P) -> P:
    """Lark may send a stale token with ``has_more=false``; expose ``None`` then."""
    if not page.has_more and page.page_token is not None:
        page.page_token = None
    return page


def check_user_ids(user_ids: Sequence[str]) -> list[str]:
    """Every id of ``user_ids`` checked (a lone string is refused), as a list."""
    if isinstance(user_ids, str):
        raise ConfigError("user_ids must be a sequence of ids, not one string")
    return [check_id(u, "user_id") for u in user_ids]


def check_lookups(emails: Sequence[str], mobiles: Sequence[str]) -> None:
    """Refuse a lone string or an empty entry among ``emails`` and ``mobiles``."""
    if isinstance(emails, str) or isinstance(mobiles, str):
        raise ConfigError("emails and mobiles must be sequences, not one string")
    for value in (*emails, *mobiles):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError("an email or mobile is empty")


def department_query(department_id_type: str, user_id_type: str) -> dict[str, Any]:
    """Both id types checked (`ConfigError`), as query parameters."""
    return {
        "department_id_type": check_choice(
            department_id_type, DEPARTMENT_ID_TYPES, "department_id_type"
        ),
        "user_id_type": check_choice(user_id_type, USER_ID_TYPES, "user_id_type"),
    }


def page_query(page_size: int, page_token: str | None, maximum: int) -> dict[str, Any]:
    """``page_size`` checked against ``maximum``, and ``page_token``, as query parameters."""
    return {"page_size": check_page_size(page_size, maximum), "page_token": page_token or None}


class ContactClientBase(BaseServiceClient):
    """`BaseServiceClient` plus an optional read-through cache with a TTL per entry."""

    def __init__(
        self,
        pool: CredentialPool | None = None,
        *,
        cache_ttl: float | None = None,
        app_id: str | None = None,
        access_token: str | None = None,
        base_url: str | None = None,
        transport: LarkTransport | None = None,
    ) -> None:
        super().__init__(
            pool, app_id=app_id, access_token=access_token, base_url=base_url, transport=transport
        )
        if cache_ttl is not None and (isinstance(cache_ttl, bool) or not cache_ttl > 0):
            raise ConfigError("cache_ttl must be a positive number of seconds (or None)")
        self.cache_ttl = cache_ttl
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}

    def invalidate_cache(self) -> None:
        """Forget every cached user, department and chat (of every app)."""
        self._cache.clear()

    def _now(self) -> float:
        return self.pool.clock.now() if self.pool is not None else time.monotonic()

    def _cache_key(self, app_id: str | None, *parts: str) -> tuple[str, ...]:
        # Keyed by the app the call resolves to, so one app's answer never serves another.
        resolved = self.resolve_app(app_id).app_id if self.pool is not None else ""
        return (resolved, *parts)

    async def _cached(
        self, app_id: str | None, parts: tuple[str, ...], load: Callable[[], Awaitable[T]]
    ) -> T:
        if self.cache_ttl is None:
            return await load()
        key = self._cache_key(app_id, *parts)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > self._now():
            return hit[1]  # type: ignore[no-any-return]
        value = await load()
        if key not in self._cache and len(self._cache) >= CACHE_MAX_ENTRIES:
            self._cache.pop(next(iter(self._cache)))  # the oldest insertion
        self._cache[key] = (self._now() + self.cache_ttl, value)
        return value

    async def _get(self, type_: type[T], path: str, *, api: str, **kw: Any) -> T:
        """GET and decode ``data``."""
        return await self._call_data(type_, "GET", path, api=api, **kw)

    async def _get_page(self, type_: type[P], path: str, *, api: str, **kw: Any) -> P:
        """GET one page (`next_token` applied)."""
        return next_token(await self._get(type_, path, api=api, **kw))
