"""`SqlApiKeyStore`: API keys in ``{prefix}api_keys``, found by the digest of the key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, select, update

from lark_service.adapters.postgres.database import SqlDatabase
from lark_service.domain.api_keys import ApiKey
from lark_service.domain.ports.api_keys import ApiKeyStore

__all__ = ["SqlApiKeyStore"]


class SqlApiKeyStore(ApiKeyStore):
    """Key ids, digests and scopes (comma-separated); never a key itself."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._t = db.tables

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    async def save_key(self, key: ApiKey) -> None:
        values: dict[str, Any] = {
            "key_id": key.key_id,
            "key_hash": key.key_hash,
            "scopes": ",".join(key.scopes),
            "name": key.name,
            "created_at": key.created_at,
            "revoked_at": key.revoked_at,
        }
        await self._db.write("saving an API key", self._db.upsert(self._t.api_keys, values))

    async def find_key(self, key_hash: str) -> ApiKey | None:
        t = self._t.api_keys
        rows = await self._db.rows("finding an API key", select(t).where(t.c.key_hash == key_hash))
        return _key(rows[0]) if rows else None

    async def list_keys(self) -> list[ApiKey]:
        t = self._t.api_keys
        rows = await self._db.rows("listing API keys", select(t).order_by(t.c.created_at))
        return [_key(r) for r in rows]

    async def revoke_key(self, key_id: str, *, revoked_at: float) -> bool:
        t = self._t.api_keys
        stmt = (
            update(t)
            .where(t.c.key_id == key_id, t.c.revoked_at.is_(None))
            .values(revoked_at=revoked_at)
        )
        if await self._db.write("revoking an API key", stmt):
            return True
        exists = await self._db.rows(
            "finding an API key", select(t.c.key_id).where(t.c.key_id == key_id)
        )
        return bool(exists)


def _key(r: RowMapping) -> ApiKey:
    return ApiKey(
        key_id=r["key_id"],
        key_hash=r["key_hash"],
        scopes=tuple(s for s in r["scopes"].split(",") if s),
        name=r["name"],
        created_at=r["created_at"],
        revoked_at=r["revoked_at"],
    )
