"""The credential stores in dicts: one shared state, one small store per concern.

Objects are immutable Structs, so sharing them is safe. Build them together with
`in_memory_stores()`, which puts all five on one `MemoryState` (deleting an app clears its
tokens, tickets and grants as the SQL store does).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import msgspec

from lark_service.domain.apps import AppConfig
from lark_service.domain.grants import GrantExpiry
from lark_service.domain.ports.credentials import CredentialStores
from lark_service.domain.tokens import AccessToken, TokenKey, UserToken

__all__ = [
    "InMemoryAppStore",
    "InMemoryAppTicketStore",
    "InMemoryProcessedEventStore",
    "InMemoryTokenStore",
    "InMemoryUserGrantStore",
    "MemoryState",
    "in_memory_stores",
]


@dataclass
class MemoryState:
    """Everything the in-memory stores hold; tests may read it directly."""

    apps: dict[str, AppConfig] = field(default_factory=dict)
    tokens: dict[TokenKey, AccessToken] = field(default_factory=dict)
    app_tickets: dict[str, tuple[str, float]] = field(default_factory=dict)
    user_tokens: dict[tuple[str, str], UserToken] = field(default_factory=dict)
    events: dict[str, float] = field(default_factory=dict)


class InMemoryAppStore:
    def __init__(self, state: MemoryState | None = None) -> None:
        self.state = state if state is not None else MemoryState()

    async def list_apps(self) -> list[AppConfig]:
        return list(self.state.apps.values())

    async def get_app(self, app_id: str) -> AppConfig | None:
        return self.state.apps.get(app_id)

    async def save_app(self, app: AppConfig) -> None:
        apps = self.state.apps
        if app.is_default:
            for other in [a for a in apps.values() if a.is_default and a.app_id != app.app_id]:
                apps[other.app_id] = msgspec.structs.replace(other, is_default=False)
        apps[app.app_id] = app

    async def delete_app(self, app_id: str) -> bool:
        s = self.state
        existed = s.apps.pop(app_id, None) is not None
        s.tokens = {k: v for k, v in s.tokens.items() if k.app_id != app_id}
        s.app_tickets.pop(app_id, None)
        s.user_tokens = {k: v for k, v in s.user_tokens.items() if k[0] != app_id}
        return existed


class InMemoryTokenStore:
    def __init__(self, state: MemoryState | None = None) -> None:
        self.state = state if state is not None else MemoryState()

    async def load_token(self, key: TokenKey) -> AccessToken | None:
        return self.state.tokens.get(key)

    async def save_token(self, key: TokenKey, token: AccessToken) -> None:
        self.state.tokens[key] = token

    async def delete_token(self, key: TokenKey) -> None:
        self.state.tokens.pop(key, None)

    @contextlib.asynccontextmanager
    async def token_refresh_lock(self, key: TokenKey) -> AsyncIterator[None]:
        # One process: the pool's own single-flight already serialises refreshes.
        yield


class InMemoryAppTicketStore:
    def __init__(self, state: MemoryState | None = None) -> None:
        self.state = state if state is not None else MemoryState()

    async def load_app_ticket(self, app_id: str) -> str | None:
        entry = self.state.app_tickets.get(app_id)
        return entry[0] if entry else None

    async def save_app_ticket(self, app_id: str, ticket: str, *, expires_at: float) -> None:
        self.state.app_tickets[app_id] = (ticket, expires_at)


class InMemoryUserGrantStore:
    def __init__(self, state: MemoryState | None = None) -> None:
        self.state = state if state is not None else MemoryState()

    async def load_user_token(self, app_id: str, user_id: str) -> UserToken | None:
        return self.state.user_tokens.get((app_id, user_id))

    async def save_user_token(self, token: UserToken) -> None:
        key = (token.app_id, token.user_id)
        kept = self.state.user_tokens.get(key)
        if token.granted_at is None and kept is not None:  # a refresh: still the same grant
            token = msgspec.structs.replace(token, granted_at=kept.granted_at)
        self.state.user_tokens[key] = token

    async def delete_user_token(self, app_id: str, user_id: str) -> None:
        self.state.user_tokens.pop((app_id, user_id), None)

    async def expiring_user_grants(self, before: float) -> list[GrantExpiry]:
        return [
            GrantExpiry(app_id=t.app_id, user_id=t.user_id, refresh_expires_at=t.refresh_expires_at)
            for t in self.state.user_tokens.values()
            if 0 < t.refresh_expires_at < before
        ]


class InMemoryProcessedEventStore:
    def __init__(self, state: MemoryState | None = None) -> None:
        self.state = state if state is not None else MemoryState()

    async def remember_event(self, event_id: str, *, expires_at: float) -> bool:
        if event_id in self.state.events:
            return False
        self.state.events[event_id] = expires_at
        return True

    async def seen_event(self, event_id: str, *, now: float) -> bool:
        expires_at = self.state.events.get(event_id)
        return expires_at is not None and expires_at >= now

    async def forget_event(self, event_id: str) -> None:
        self.state.events.pop(event_id, None)

    async def prune_events(self, *, before: float) -> int:
        old = [e for e, expires_at in self.state.events.items() if expires_at < before]
        for event_id in old:
            del self.state.events[event_id]
        return len(old)


def in_memory_stores(state: MemoryState | None = None) -> CredentialStores:
    """All five stores over one state (a fresh one unless given)."""
    s = state if state is not None else MemoryState()
    return CredentialStores(
        apps=InMemoryAppStore(s),
        tokens=InMemoryTokenStore(s),
        app_tickets=InMemoryAppTicketStore(s),
        user_grants=InMemoryUserGrantStore(s),
        processed_events=InMemoryProcessedEventStore(s),
    )
