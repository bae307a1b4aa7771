"""`ProcessedEventStore` on `SqlDatabase`: event ids, so redeliveries are dropped."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from lark_service.adapters.postgres.database import SqlDatabase

__all__ = ["SqlProcessedEventStore"]


class SqlProcessedEventStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    async def remember_event(self, event_id: str, *, expires_at: float) -> bool:
        t = self._db.tables.processed_events
        stmt = self._db.insert(t, {"event_id": event_id, "expires_at": expires_at})
        stmt = stmt.on_conflict_do_nothing(index_elements=["event_id"])

        async def fn(conn: AsyncConnection) -> bool:
            return (await conn.execute(stmt)).rowcount == 1

        # Not idempotent: retrying an uncertain commit could call a new event a duplicate.
        return await self._db.run("recording an event id", fn, idempotent=False)

    async def seen_event(self, event_id: str, *, now: float) -> bool:
        t = self._db.tables.processed_events
        stmt = select(t.c.event_id).where(t.c.event_id == event_id, t.c.expires_at >= now)

        async def fn(conn: AsyncConnection) -> bool:
            return (await conn.execute(stmt)).first() is not None

        return await self._db.run("looking up an event id", fn)

    async def forget_event(self, event_id: str) -> None:
        t = self._db.tables.processed_events
        await self._db.write("forgetting an event id", delete(t).where(t.c.event_id == event_id))

    async def prune_events(self, *, before: float) -> int:
        t = self._db.tables.processed_events
        stmt = delete(t).where(t.c.expires_at < before)
        return await self._db.write("pruning event ids", stmt)
