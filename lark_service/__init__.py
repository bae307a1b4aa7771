"""lark-service: run many Lark (Feishu) apps from one place.

The public API, importable from here::

    from lark_service import AppConfig, MessagingClient, open_pool, use_app

Domain types, errors and the clients load eagerly (pure Python, no I/O libraries);
`open_pool` loads the adapters (aiohttp, SQLAlchemy) on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lark_service.application import (
    ApplicationManager,
    BaseServiceClient,
    ContactClient,
    CredentialPool,
    DocClient,
    MessagingClient,
    WorkspaceTableClient,
    use_app,
)
from lark_service.domain.apps import AppConfig, AppType
from lark_service.domain.errors import (
    AppDisabledError,
    AppResolutionError,
    AuthError,
    BadRequestError,
    CallTimeoutError,
    ConfigError,
    LarkAPIError,
    LarkServiceError,
    NoAppResolvedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    StoreError,
    TokenInvalidError,
    TransportError,
    UnknownAppError,
    UserNotAuthorizedError,
)

if TYPE_CHECKING:
    from lark_service.entrypoints.embed import open_pool

__all__ = [
    "AppConfig",
    "AppDisabledError",
    "AppResolutionError",
    "AppType",
    "ApplicationManager",
    "AuthError",
    "BadRequestError",
    "BaseServiceClient",
    "CallTimeoutError",
    "ConfigError",
    "ContactClient",
    "CredentialPool",
    "DocClient",
    "LarkAPIError",
    "LarkServiceError",
    "MessagingClient",
    "NoAppResolvedError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServerError",
    "StoreError",
    "TokenInvalidError",
    "TransportError",
    "UnknownAppError",
    "UserNotAuthorizedError",
    "WorkspaceTableClient",
    "open_pool",
    "use_app",
]


def __getattr__(name: str) -> Any:
    # open_pool pulls in the adapters (aiohttp, SQLAlchemy, cryptography): load it on first use
    # so that `import lark_service` for types and clients stays light.
    if name == "open_pool":
        from lark_service.entrypoints.embed import open_pool

        return open_pool
    raise AttributeError(f"module 'lark_service' has no attribute {name!r}")
