from __future__ import annotations

from typing import Protocol

from lark_service.domain.api_keys import ApiKey


class ApiKeyStore(Protocol):
    """Stores API keys by id, found by the digest of the presented key."""

    async def save_key(self, key: ApiKey) -> None:
        """Insert or replace the key (by ``key_id``)."""
        ...

    async def find_key(self, key_hash: str) -> ApiKey | None:
        """The key whose digest is ``key_hash``, revoked or not."""
        ...

    async def list_keys(self) -> list[ApiKey]: ...

    async def revoke_key(self, key_id: str, *, revoked_at: float) -> bool:
        """Mark the key revoked; ``False`` if there is no such key."""
        ...
