from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from lark_service.domain.tokens import AccessToken, TokenKey


class TokenStore(Protocol):
    """Shares issued app and tenant tokens between processes, with a lock per token.

    Lookups return ``None`` when absent. Failures raise ``StoreError``.
    """

    async def load_token(self, key: TokenKey) -> AccessToken | None: ...

    async def save_token(self, key: TokenKey, token: AccessToken) -> None: ...

    async def delete_token(self, key: TokenKey) -> None: ...

    def token_refresh_lock(self, key: TokenKey) -> AbstractAsyncContextManager[None]:
        """Held while one process refreshes ``key``; others wait and then re-read the store.

        The wait is bounded: past the adapter's deadline it raises ``StoreError``.
        """
        ...
