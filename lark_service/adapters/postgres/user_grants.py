"""`UserGrantStore` on `SqlDatabase`: user access and refresh tokens, sealed."""

from __future__ import annotations

import msgspec
from sqlalchemy import ColumnElement, and_, delete, select

from lark_service.adapters.postgres.database import SqlDatabase
from lark_service.adapters.postgres.timestamps import utc_now
from lark_service.domain.grants import GrantExpiry
from lark_service.domain.tokens import UserToken

__all__ = ["SqlUserGrantStore"]


class SqlUserGrantStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    def _where(self, app_id: str, user_id: str) -> ColumnElement[bool]:
        c = self._db.tables.user_tokens.c
        return and_(c.app_id == app_id, c.user_id == user_id)

    async def load_user_token(self, app_id: str, user_id: str) -> UserToken | None:
        t, db = self._db.tables.user_tokens, self._db
        rows = await db.rows("reading a user token", select(t).where(self._where(app_id, user_id)))
        if not rows:
            return None
        r = rows[0]
        return UserToken(
            app_id=r["app_id"],
            user_id=r["user_id"],
            access_token=db.unseal(t, r, "access_token"),
            expires_at=r["expires_at"],
            refresh_token=db.unseal(t, r, "refresh_token"),
            refresh_expires_at=r["refresh_expires_at"],
            scope=r["scope"],
            granted_at=r["granted_at"],
        )

    async def save_user_token(self, token: UserToken) -> None:
        t = self._db.tables.user_tokens
        row = msgspec.structs.asdict(token) | {"updated_at": utc_now()}
        row = self._db.seal(t, row, "access_token", "refresh_token")
        # a refresh (no granted_at) is still the grant the user gave: keep when it was given
        keep = ("granted_at",) if token.granted_at is None else ()
        await self._db.write("saving a user token", self._db.upsert(t, row, keep=keep))

    async def delete_user_token(self, app_id: str, user_id: str) -> None:
        stmt = delete(self._db.tables.user_tokens).where(self._where(app_id, user_id))
        await self._db.write("deleting a user token", stmt)

    async def expiring_user_grants(self, before: float) -> list[GrantExpiry]:
        c = self._db.tables.user_tokens.c
        stmt = select(c.app_id, c.user_id, c.refresh_expires_at).where(
            c.refresh_expires_at > 0, c.refresh_expires_at < before
        )
        rows = await self._db.rows("listing expiring user grants", stmt)
        return [
            GrantExpiry(
                app_id=r["app_id"], user_id=r["user_id"], refresh_expires_at=r["refresh_expires_at"]
            )
            for r in rows
        ]
