"""`AppStore` on `SqlDatabase`: app secrets, encrypt keys and verification tokens sealed."""

from __future__ import annotations

import msgspec
from sqlalchemy import RowMapping, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from lark_service.adapters.postgres.database import SqlDatabase
from lark_service.adapters.postgres.timestamps import utc_now
from lark_service.domain.apps import AppConfig, AppType, EventMode

__all__ = ["SqlAppStore"]

_SEALED = ("app_secret", "encrypt_key", "verification_token")


class SqlAppStore:
    """The ``{prefix}apps`` table; deleting an app deletes its rows in every per-app table."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    def _app(self, r: RowMapping) -> AppConfig:
        t, db = self._db.tables.apps, self._db
        return AppConfig(
            app_id=r["app_id"],
            app_secret=db.unseal(t, r, "app_secret"),
            name=r["name"],
            app_type=AppType(r["app_type"]),
            domain=r["domain"],
            encrypt_key=db.unseal(t, r, "encrypt_key"),
            verification_token=db.unseal(t, r, "verification_token"),
            is_default=r["is_default"],
            enabled=r["enabled"],
            event_mode=EventMode(r["event_mode"]),
        )

    async def list_apps(self) -> list[AppConfig]:
        t = self._db.tables.apps
        rows = await self._db.rows("listing apps", select(t).order_by(t.c.created_at, t.c.app_id))
        return [self._app(r) for r in rows]

    async def get_app(self, app_id: str) -> AppConfig | None:
        t = self._db.tables.apps
        rows = await self._db.rows("reading an app", select(t).where(t.c.app_id == app_id))
        return self._app(rows[0]) if rows else None

    async def save_app(self, app: AppConfig) -> None:
        t, now = self._db.tables.apps, utc_now()
        row = msgspec.structs.asdict(app) | {
            "app_type": app.app_type.value,
            "event_mode": app.event_mode.value,
        }
        row |= {"created_at": now, "updated_at": now}
        upsert = self._db.upsert(t, self._db.seal(t, row, *_SEALED), keep=("created_at",))
        others = (
            update(t)
            .where(t.c.is_default, t.c.app_id != app.app_id)
            .values(is_default=False, updated_at=now)
        )

        async def fn(conn: AsyncConnection) -> None:
            if app.is_default:  # one default at most: cleared in the same transaction
                await conn.execute(others)
            await conn.execute(upsert)

        await self._db.run("saving an app", fn)

    async def delete_app(self, app_id: str) -> bool:
        async def fn(conn: AsyncConnection) -> bool:
            deleted = 0
            for t in self._db.tables.per_app():  # the apps table comes last
                deleted = (await conn.execute(delete(t).where(t.c.app_id == app_id))).rowcount
            return deleted > 0

        return await self._db.run("deleting an app", fn)
