"""The base of the service's SQL stores (jobs, API keys): an engine, the tables, one retry.

These tables hold no secret (API keys are stored as digests), so there is no cipher here.
A store either owns its engine (`open`) or shares one handed in (closing it is then the
owner's business).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Self, TypeVar

import anyio
from sqlalchemy import Executable, RowMapping, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lark_service.adapters.postgres.engine import create_engine, is_transient, store_error
from lark_service.adapters.postgres.schema import DEFAULT_PREFIX, Tables, build_tables

T = TypeVar("T")
ATTEMPTS = 3
_BACKOFF = 0.1


class SqlServiceStore:
    """Runs statements on one engine, retrying dropped connections (idempotent writes only)."""

    def __init__(
        self, engine: AsyncEngine, *, table_prefix: str = DEFAULT_PREFIX, owns_engine: bool = False
    ) -> None:
        self._engine = engine
        self._owns_engine = owns_engine
        self._t: Tables = build_tables(table_prefix)
        self._postgres = engine.dialect.name == "postgresql"

    @classmethod
    def open(cls, database_url: str, *, table_prefix: str = DEFAULT_PREFIX) -> Self:
        """A store with its own engine on a migrated database (no I/O until first use)."""
        return cls(create_engine(database_url), table_prefix=table_prefix, owns_engine=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(table_prefix={self._t.prefix!r})"

    async def _run(self, action: str, fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self._engine.begin() as conn:
                    return await fn(conn)
            except (SQLAlchemyError, OSError) as exc:
                if attempt < ATTEMPTS and is_transient(exc):
                    await anyio.sleep(_BACKOFF * attempt)
                    continue
                raise store_error(action, exc) from None
        raise AssertionError("unreachable")

    async def _rows(self, action: str, stmt: Executable) -> list[RowMapping]:
        async def fn(conn: AsyncConnection) -> list[RowMapping]:
            return list((await conn.execute(stmt)).mappings().all())

        return await self._run(action, fn)

    async def _write(self, action: str, stmt: Executable) -> int:
        async def fn(conn: AsyncConnection) -> int:
            return (await conn.execute(stmt)).rowcount

        return await self._run(action, fn)

    def _upsert(self, table: Table, values: dict[str, Any]) -> Executable:
        """INSERT ... ON CONFLICT (primary key) DO UPDATE every other column."""
        insert = postgresql.insert if self._postgres else sqlite.insert
        stmt = insert(table).values(**values)
        keys = [c.name for c in table.primary_key.columns]
        changed = {k: stmt.excluded[k] for k in values if k not in keys}
        return stmt.on_conflict_do_update(index_elements=keys, set_=changed)

    async def aclose(self) -> None:
        if self._owns_engine:
            await self._engine.dispose()
