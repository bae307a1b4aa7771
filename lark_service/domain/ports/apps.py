from __future__ import annotations

from typing import Protocol

from lark_service.domain.apps import AppConfig


class AppStore(Protocol):
    """Persists the apps (their secrets encrypted at rest where the adapter supports it).

    At most one stored app is the default: saving an app with ``is_default=True`` clears the
    flag on every other app in the same write. Failures raise ``StoreError``.
    """

    async def list_apps(self) -> list[AppConfig]:
        """Every stored app, in the order they were first saved."""
        ...

    async def get_app(self, app_id: str) -> AppConfig | None: ...

    async def save_app(self, app: AppConfig) -> None:
        """Insert or replace the app (see the class docstring for the default flag)."""
        ...

    async def delete_app(self, app_id: str) -> bool:
        """Remove the app and everything stored for it (tokens, tickets, user grants).

        ``False`` if it did not exist.
        """
        ...
