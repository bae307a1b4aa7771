from __future__ import annotations

from typing import Protocol


class AppTicketStore(Protocol):
    """Keeps the latest ``app_ticket`` Lark pushed to each marketplace app."""

    async def load_app_ticket(self, app_id: str) -> str | None: ...

    async def save_app_ticket(self, app_id: str, ticket: str, *, expires_at: float) -> None: ...
