from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from lark_service.domain.apps import AppConfig
from lark_service.domain.tokens import AccessToken, TokenKey, UserToken


class CredentialStore(Protocol):
    """Persists apps, issued tokens, app tickets, user grants and processed event ids.

    Lookups return ``None`` when absent. Failures raise ``StoreError``.
    """

    async def list_apps(self) -> list[AppConfig]: ...

    async def get_app(self, app_id: str) -> AppConfig | None: ...

    async def save_app(self, app: AppConfig) -> None:
        """Insert or replace the app."""
        ...

    async def delete_app(self, app_id: str) -> bool:
        """Remove the app and everything stored for it; ``False`` if it did not exist."""
        ...

    async def load_token(self, key: TokenKey) -> AccessToken | None: ...

    async def save_token(self, key: TokenKey, token: AccessToken) -> None: ...

    async def delete_token(self, key: TokenKey) -> None: ...

    async def load_app_ticket(self, app_id: str) -> str | None: ...

    async def save_app_ticket(self, app_id: str, ticket: str, *, expires_at: float) -> None: ...

    async def load_user_token(self, app_id: str, user_id: str) -> UserToken | None: ...

    async def save_user_token(self, token: UserToken) -> None: ...

    async def delete_user_token(self, app_id: str, user_id: str) -> None: ...

    async def remember_event(self, event_id: str, *, expires_at: float) -> bool:
        """Record an event id; ``False`` if it was already recorded (a duplicate delivery)."""
        ...

    def token_refresh_lock(self, key: TokenKey) -> AbstractAsyncContextManager[None]:
        """Held while one process refreshes ``key``; others wait and then re-read the store."""
        ...

    async def aclose(self) -> None: ...
