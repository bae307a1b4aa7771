from __future__ import annotations

import msgspec

from lark_service.domain.api_keys import ApiKey
from lark_service.domain.ports.api_keys import ApiKeyStore


class InMemoryApiKeyStore(ApiKeyStore):
    """API keys (digests only) in a dict."""

    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}

    async def save_key(self, key: ApiKey) -> None:
        self._keys[key.key_id] = key

    async def find_key(self, key_hash: str) -> ApiKey | None:
        return next((k for k in self._keys.values() if k.key_hash == key_hash), None)

    async def list_keys(self) -> list[ApiKey]:
        return list(self._keys.values())

    async def revoke_key(self, key_id: str, *, revoked_at: float) -> bool:
        key = self._keys.get(key_id)
        if key is None:
            return False
        if key.revoked_at is None:
            self._keys[key_id] = msgspec.structs.replace(key, revoked_at=revoked_at)
        return True
