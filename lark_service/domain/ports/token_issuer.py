from __future__ import annotations

from typing import Protocol

from lark_service.domain.apps import AppConfig
from lark_service.domain.tokens import AccessToken, UserToken


class TokenIssuer(Protocol):
    """Fetches tokens from Lark's auth endpoints. ``expires_at`` is on the injected clock."""

    async def tenant_access_token_internal(self, app: AppConfig) -> AccessToken:
        """Self-built app: ``/auth/v3/tenant_access_token/internal``."""
        ...

    async def app_access_token_internal(self, app: AppConfig) -> AccessToken:
        """Self-built app: ``/auth/v3/app_access_token/internal``."""
        ...

    async def app_access_token(self, app: AppConfig, *, app_ticket: str) -> AccessToken:
        """Marketplace app: ``/auth/v3/app_access_token`` with the pushed app_ticket."""
        ...

    async def tenant_access_token(
        self, app: AppConfig, *, app_access_token: str, tenant_key: str
    ) -> AccessToken:
        """Marketplace app: ``/auth/v3/tenant_access_token`` for one tenant."""
        ...

    async def resend_app_ticket(self, app: AppConfig) -> None:
        """Ask Lark to push a fresh app_ticket event."""
        ...

    async def refresh_user_access_token(
        self, app: AppConfig, *, user_id: str, refresh_token: str
    ) -> UserToken:
        """OAuth v2 refresh: the returned token carries the new (rotated) refresh token."""
        ...

    async def user_access_token_from_code(
        self,
        app: AppConfig,
        *,
        user_id: str,
        code: str,
        redirect_uri: str = "",
        code_verifier: str = "",
    ) -> UserToken:
        """OAuth v2 authorization_code grant (``code_verifier``: PKCE, when a challenge was
        sent with the authorization URL)."""
        ...
