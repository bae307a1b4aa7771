"""`AppTicketStore` on `SqlDatabase`: the latest app_ticket per marketplace app, sealed."""

from __future__ import annotations

from sqlalchemy import select

from lark_service.adapters.postgres.database import SqlDatabase
from lark_service.adapters.postgres.timestamps import utc_now

__all__ = ["SqlAppTicketStore"]


class SqlAppTicketStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    async def load_app_ticket(self, app_id: str) -> str | None:
        t = self._db.tables.app_tickets
        rows = await self._db.rows("reading an app ticket", select(t).where(t.c.app_id == app_id))
        return str(self._db.unseal(t, rows[0], "ticket")) if rows else None

    async def save_app_ticket(self, app_id: str, ticket: str, *, expires_at: float) -> None:
        t = self._db.tables.app_tickets
        row = {"app_id": app_id, "ticket": ticket, "expires_at": expires_at}
        row["updated_at"] = utc_now()
        stmt = self._db.upsert(t, self._db.seal(t, row, "ticket"))
        await self._db.write("saving an app ticket", stmt)
