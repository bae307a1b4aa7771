from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from lark_service.domain.apps import AppConfig
from lark_service.domain.ports.credentials import CredentialStore
from lark_service.domain.tokens import AccessToken, TokenKey, UserToken


class InMemoryCredentialStore(CredentialStore):
    """Keeps everything in dicts. Objects are immutable Structs, so sharing them is safe."""

    def __init__(self) -> None:
        self.apps: dict[str, AppConfig] = {}
        self.tokens: dict[TokenKey, AccessToken] = {}
        self.app_tickets: dict[str, tuple[str, float]] = {}
        self.user_tokens: dict[tuple[str, str], UserToken] = {}
        self.events: dict[str, float] = {}

    async def list_apps(self) -> list[AppConfig]:
        return list(self.apps.values())

    async def get_app(self, app_id: str) -> AppConfig | None:
        return self.apps.get(app_id)

    async def save_app(self, app: AppConfig) -> None:
        self.apps[app.app_id] = app

    async def delete_app(self, app_id: str) -> bool:
        existed = self.apps.pop(app_id, None) is not None
        self.tokens = {k: v for k, v in self.tokens.items() if k.app_id != app_id}
        self.app_tickets.pop(app_id, None)
        self.user_tokens = {k: v for k, v in self.user_tokens.items() if k[0] != app_id}
        return existed

    async def load_token(self, key: TokenKey) -> AccessToken | None:
        return self.tokens.get(key)

    async def save_token(self, key: TokenKey, token: AccessToken) -> None:
        self.tokens[key] = token

    async def delete_token(self, key: TokenKey) -> None:
        self.tokens.pop(key, None)

    async def load_app_ticket(self, app_id: str) -> str | None:
        entry = self.app_tickets.get(app_id)
        return entry[0] if entry else None

    async def save_app_ticket(self, app_id: str, ticket: str, *, expires_at: float) -> None:
        self.app_tickets[app_id] = (ticket, expires_at)

    async def load_user_token(self, app_id: str, user_id: str) -> UserToken | None:
        return self.user_tokens.get((app_id, user_id))

    async def save_user_token(self, token: UserToken) -> None:
        self.user_tokens[(token.app_id, token.user_id)] = token

    async def delete_user_token(self, app_id: str, user_id: str) -> None:
        self.user_tokens.pop((app_id, user_id), None)

    async def remember_event(self, event_id: str, *, expires_at: float) -> bool:
        if event_id in self.events:
            return False
        self.events[event_id] = expires_at
        return True

    @contextlib.asynccontextmanager
    async def token_refresh_lock(self, key: TokenKey) -> AsyncIterator[None]:
        # One process: the pool's own single-flight already serialises refreshes.
        yield

    async def aclose(self) -> None:
        return None
