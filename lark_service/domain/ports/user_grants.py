from __future__ import annotations

from typing import Protocol

from lark_service.domain.grants import GrantExpiry
from lark_service.domain.tokens import UserToken


class UserGrantStore(Protocol):
    """Keeps each user's OAuth grant (user_access_token and its single-use refresh token)."""

    async def load_user_token(self, app_id: str, user_id: str) -> UserToken | None: ...

    async def save_user_token(self, token: UserToken) -> None:
        """Insert or replace the grant of ``(token.app_id, token.user_id)``.

        A token without ``granted_at`` (a refresh) keeps the stored grant's; with one (a new
        authorization) it replaces it. Inserted without one, the time is unknown (``None``).
        """
        ...

    async def delete_user_token(self, app_id: str, user_id: str) -> None: ...

    async def expiring_user_grants(self, before: float) -> list[GrantExpiry]:
        """Grants whose refresh token lapses before ``before`` (token care); no tokens."""
        ...
