"""Plumbing under ``SqlCredentialStore``: transactions with retries, upserts, sealing.

Every driver failure surfaces as ``StoreError`` naming only the kind of failure (never the
DSN, SQL or parameters). A call that fails on a dropped or refused connection is retried
``ATTEMPTS`` times with a short backoff; connections are pinged before use, so a restarted
server is reconnected to. After the last attempt ``StoreError`` is raised.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import anyio
from sqlalchemy import Executable, RowMapping, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from lark_service.adapters.postgres.crypto import SecretCipher
from lark_service.adapters.postgres.engine import create_engine, is_transient, safe_url, store_error
from lark_service.adapters.postgres.keyfile import sqlite_file
from lark_service.adapters.postgres.migrations import current_heads, head_revision
from lark_service.adapters.postgres.schema import DEFAULT_PREFIX, build_tables
from lark_service.domain.errors import ConfigError, StoreError

__all__ = ["ATTEMPTS", "Insert", "StoreCore"]

Insert = postgresql.Insert | sqlite.Insert  # both have on_conflict_do_update/do_nothing

T = TypeVar("T")
ATTEMPTS = 3
_BACKOFF = 0.1
_CANARY = "lark-service canary v1"


LOCK_CONNECTIONS = 4


class StoreCore:
    """Engine, tables and cipher for one database URL and table prefix."""

    def __init__(
        self, database_url: str, *, cipher: SecretCipher, table_prefix: str = DEFAULT_PREFIX
    ) -> None:
        self._url = safe_url(database_url)
        self._engine = create_engine(database_url)
        # Token locks hold a connection while the token is fetched; they get their own pool
        # so that many apps refreshing at once cannot starve the reads they wait on.
        # Each held lock is a connection: at most LOCK_CONNECTIONS at once per store, so
        # replicas x apps cannot exhaust PostgreSQL's max_connections.
        self._lock_engine = create_engine(database_url, pool_size=LOCK_CONNECTIONS, max_overflow=0)
        self._lock_slots: anyio.Semaphore | None = None
        self._postgres = self._engine.dialect.name == "postgresql"
        self._t = build_tables(table_prefix)
        self._cipher = cipher
        # Token-lock names: per server and prefix, per SQLite file, or per in-memory store.
        db_file = sqlite_file(database_url)
        if self._postgres:
            self._lock_scope = f"{self._url}|{table_prefix}"
        elif db_file is not None:
            self._lock_scope = f"sqlite:{db_file.resolve()}|{table_prefix}"
        else:
            self._lock_scope = f"memory:{id(self)}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r}, table_prefix={self._t.prefix!r})"

    async def _run(
        self,
        action: str,
        fn: Callable[[AsyncConnection], Awaitable[T]],
        *,
        idempotent: bool = True,
    ) -> T:
        """Run ``fn`` in one transaction; retry transient failures.

        A failure while committing is retried only when ``idempotent``: the commit may
        have happened.
        """
        for attempt in range(1, ATTEMPTS + 1):
            committing = False
            try:
                async with self._engine.connect() as conn:
                    result = await fn(conn)
                    committing = True
                    await conn.commit()
                    return result
            except (SQLAlchemyError, OSError) as exc:
                retry = idempotent or not committing
                if attempt < ATTEMPTS and retry and is_transient(exc):
                    await anyio.sleep(_BACKOFF * attempt)
                    continue
                raise store_error(action, exc) from None
        raise AssertionError("unreachable")

    async def _rows(self, action: str, stmt: Executable) -> list[RowMapping]:
        async def fn(conn: AsyncConnection) -> list[RowMapping]:
            return list((await conn.execute(stmt)).mappings().all())

        return await self._run(action, fn)

    async def _write(self, action: str, stmt: Executable) -> int:
        """Execute one statement; returns the affected row count."""

        async def fn(conn: AsyncConnection) -> int:
            return (await conn.execute(stmt)).rowcount

        return await self._run(action, fn)

    def _insert(self, table: Table, values: Mapping[str, Any]) -> Insert:
        if self._postgres:
            return postgresql.insert(table).values(**values)
        return sqlite.insert(table).values(**values)

    def _upsert(
        self, table: Table, values: Mapping[str, Any], keep: tuple[str, ...] = ()
    ) -> Insert:
        """INSERT ... ON CONFLICT (primary key) DO UPDATE every column but ``keep``."""
        stmt = self._insert(table, values)
        keys = [c.name for c in table.primary_key.columns]
        changed = {k: stmt.excluded[k] for k in values if k not in keys and k not in keep}
        return stmt.on_conflict_do_update(index_elements=keys, set_=changed)

    def _seal(self, table: Table, row: dict[str, Any], *columns: str) -> dict[str, Any]:
        """``row`` with ``columns`` encrypted in place (``None`` stays ``None``)."""
        for c in columns:
            if row[c] is not None:
                row[c] = self._cipher.encrypt(row[c], aad=self._t.aad(table, c, row))
        return row

    def _unseal(self, table: Table, row: RowMapping, column: str) -> Any:
        value = row[column]
        if value is None:
            return None
        return self._cipher.decrypt(value, aad=self._t.aad(table, column, row))

    async def check_migrated(self) -> None:
        """``ConfigError`` unless the newest migration has been applied."""

        async def fn(conn: AsyncConnection) -> tuple[str, ...]:
            return await conn.run_sync(current_heads, self._t.prefix)

        heads = await self._run("reading the migration state", fn)
        if head_revision() not in heads:
            raise ConfigError(
                f"database is not migrated (at {','.join(heads) or 'no revision'}, "
                f"need {head_revision()}): run `lark-service db upgrade`"
            )

    async def _canary(self) -> RowMapping | None:
        t = self._t.meta
        found = await self._rows("checking the secret key", select(t).where(t.c.key == "canary"))
        return found[0] if found else None

    async def verify_secret_key(self) -> None:
        """Decrypt the canary row (``ConfigError`` on a wrong key), writing it if absent."""
        t = self._t.meta
        if (row := await self._canary()) is None:
            sealed = self._seal(t, {"key": "canary", "value": _CANARY}, "value")
            insert = self._insert(t, sealed).on_conflict_do_nothing(index_elements=["key"])
            await self._write("writing the key canary", insert)
            # Another process may have won the race with its own key: check what is stored.
            row = await self._canary()
        if row is None:
            raise StoreError("credential store: the key canary vanished while being written")
        self._unseal(t, row, "value")

    async def aclose(self) -> None:
        await self._engine.dispose()
        await self._lock_engine.dispose()
