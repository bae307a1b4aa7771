"""`LeaseStore` and `LeaseRunLog` on `SqlDatabase`: the ``{prefix}leases`` table, timed by
the database's clock.

Taking or renewing is one upsert that only writes when the row is free, expired or already
the holder's (``ON CONFLICT ... DO UPDATE ... WHERE``), so two replicas racing for a lease
cannot both win. Time is the database server's (``clock_timestamp()`` on PostgreSQL, the
file's host on SQLite): replicas' clocks may disagree without two holders at once.

A release expires the row instead of deleting it: the row also carries the duty's run log
(``runs``, ``last_run_at``), which must survive a change of holder.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Double, and_, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from lark_service.adapters.postgres.database import SqlDatabase
from lark_service.domain.ports.leases import LeaseRuns

__all__ = ["SqlLeaseStore"]


class SqlLeaseStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    def _now(self) -> Any:
        if self._db.is_postgres:
            return cast(func.extract("epoch", func.clock_timestamp()), Double)
        return (func.julianday("now") - 2440587.5) * 86400.0  # Unix seconds, in SQLite

    async def acquire_lease(self, name: str, holder: str, *, ttl: float) -> bool:
        t = self._db.tables.leases
        now = self._now()
        stmt = self._db.insert(t, {"name": name, "holder": holder, "expires_at": now + ttl})
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
            where=or_(t.c.holder == holder, t.c.expires_at <= now),
        )

        async def fn(conn: AsyncConnection) -> bool:
            return (await conn.execute(stmt)).rowcount == 1

        # a retried renewal is harmless: the row is the holder's either way
        return await self._db.run("taking a lease", fn)

    async def release_lease(self, name: str, holder: str) -> None:
        t = self._db.tables.leases
        stmt = (
            update(t)
            .where(and_(t.c.name == name, t.c.holder == holder, t.c.expires_at > self._now()))
            .values(expires_at=self._now())
        )
        await self._db.write("releasing a lease", stmt)

    async def lease_holder(self, name: str) -> str | None:
        t = self._db.tables.leases
        stmt = select(t.c.holder).where(and_(t.c.name == name, t.c.expires_at > self._now()))
        rows = await self._db.rows("reading a lease", stmt)
        return str(rows[0]["holder"]) if rows else None

    async def record_run(self, name: str, holder: str) -> bool:
        t = self._db.tables.leases
        now = self._now()
        stmt = (
            update(t)
            .where(and_(t.c.name == name, t.c.holder == holder, t.c.expires_at > now))
            .values(runs=t.c.runs + 1, last_run_at=now)
        )

        async def fn(conn: AsyncConnection) -> bool:
            return (await conn.execute(stmt)).rowcount == 1

        # not idempotent: a commit retried after it happened would count the run twice
        return await self._db.run("counting a run", fn, idempotent=False)

    async def lease_runs(self, name: str) -> LeaseRuns | None:
        t = self._db.tables.leases
        held = (t.c.expires_at > self._now()).label("held")
        stmt = select(t.c.holder, t.c.runs, t.c.last_run_at, held).where(t.c.name == name)
        rows = await self._db.rows("reading a lease's runs", stmt)
        if not rows:
            return None
        row = rows[0]
        return LeaseRuns(
            name=name,
            runs=int(row["runs"]),
            last_run_at=None if row["last_run_at"] is None else float(row["last_run_at"]),
            holder=str(row["holder"]) if row["held"] else None,
        )
