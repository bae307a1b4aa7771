"""`SqlDatabase`: the one engine (and lock engine), tables and cipher every SQL store shares.

It runs transactions with retries, builds upserts and seals secrets; the stores by concern
(``apps``, ``tokens``, ``app_tickets``, ``user_grants``, ``processed_events``, and those the
service adds) are thin views over it, so they share connections and one migration history.

Every driver failure surfaces as ``StoreError`` naming only the kind of failure (never the
DSN, SQL or parameters). A call that fails on a dropped or refused connection is retried
``ATTEMPTS`` times with a short backoff; connections are pinged before use, so a restarted
server is reconnected to. After the last attempt ``StoreError`` is raised. Every call is
bounded by ``StoreDeadlines`` (connect, statement, the whole operation): a server that
silently drops packets costs a caller seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Self, TypeVar

import anyio
from sqlalchemy import Executable, RowMapping, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from lark_service.adapters.postgres.crypto import SecretCipher
from lark_service.adapters.postgres.deadlines import DEFAULT_DEADLINES, StoreDeadlines
from lark_service.adapters.postgres.engine import (
    create_engine,
    is_transient,
    safe_url,
    store_error,
    where,
)
from lark_service.adapters.postgres.keyfile import (
    pending_key_file_for,
    read_key_file,
    resolve_cipher,
    settle_pending_key,
    sqlite_file,
    write_key_file,
)
from lark_service.adapters.postgres.migrations import current_heads, head_revision
from lark_service.adapters.postgres.schema import DEFAULT_PREFIX, build_tables
from lark_service.domain.errors import ConfigError, StoreError

__all__ = ["ATTEMPTS", "LOCK_CONNECTIONS", "Insert", "SqlDatabase"]

Insert = postgresql.Insert | sqlite.Insert  # both have on_conflict_do_update/do_nothing

T = TypeVar("T")
ATTEMPTS = 3
_BACKOFF = 0.1
_CANARY = "lark-service canary v1"


LOCK_CONNECTIONS = 4


class SqlDatabase:
    """Engine, tables and cipher for one database URL and table prefix.

    Build with ``await SqlDatabase.open(url, secret_key=...)``, which also checks the schema
    and the key; the constructor alone does no I/O. Close with ``aclose``.
    """

    def __init__(
        self,
        database_url: str,
        *,
        cipher: SecretCipher,
        table_prefix: str = DEFAULT_PREFIX,
        deadlines: StoreDeadlines = DEFAULT_DEADLINES,
    ) -> None:
        self._url = safe_url(database_url)
        self.deadlines = deadlines
        self._engine = create_engine(database_url, deadlines=deadlines)
        # Token locks hold a connection while the token is fetched; they get their own pool
        # so that many apps refreshing at once cannot starve the reads they wait on.
        # Each held lock is a connection: at most LOCK_CONNECTIONS at once per store, so
        # replicas x apps cannot exhaust PostgreSQL's max_connections.
        self.lock_engine = create_engine(
            database_url, pool_size=LOCK_CONNECTIONS, max_overflow=0, deadlines=deadlines
        )
        self._lock_slots: anyio.Semaphore | None = None
        self.is_postgres = self._engine.dialect.name == "postgresql"
        self.tables = build_tables(table_prefix)
        self._cipher = cipher
        # Token-lock names: per server and prefix, per SQLite file, or per in-memory store.
        db_file = sqlite_file(database_url)
        if self.is_postgres:
            self.lock_scope = f"{self._url}|{table_prefix}"
        elif db_file is not None:
            self.lock_scope = f"sqlite:{db_file.resolve()}|{table_prefix}"
        else:
            self.lock_scope = f"memory:{id(self)}"

    @classmethod
    async def open(
        cls,
        database_url: str,
        *,
        secret_key: str | None,
        table_prefix: str = DEFAULT_PREFIX,
        deadlines: StoreDeadlines = DEFAULT_DEADLINES,
    ) -> Self:
        """Open, check that the schema is migrated and that the key decrypts the secrets.

        ``secret_key`` is ``LARK_SERVICE_SECRET_KEY``'s value (``"new,old"`` while rotating).
        Without one, an SQLite file uses (or creates) the key file next to it; PostgreSQL
        requires a key. A key that does not decrypt the stored canary → ``ConfigError``.

        A key file's pending successor (``<db>.key.new``, left by a ``secret-key rotate``
        that stopped after its commit) is used when it, and not the old key, opens the
        canary; see `keyfile.settle_pending_key`.
        """
        cipher, new_key_file = resolve_cipher(database_url, secret_key)
        db = cls(database_url, cipher=cipher, table_prefix=table_prefix, deadlines=deadlines)
        try:
            await db.check_migrated()
            db_file = sqlite_file(database_url)
            if not secret_key and new_key_file is None and db_file is not None:
                await db._settle_pending_key(db_file)
            if new_key_file is not None:
                path, key = new_key_file
                if await db.canary() is not None:
                    raise ConfigError(
                        f"secret key file {path} is missing but the database holds "
                        "encrypted secrets: restore the file or set LARK_SERVICE_SECRET_KEY"
                    )
                write_key_file(path, key)
            await db.verify_secret_key()
        except BaseException:
            await db.aclose()
            raise
        return db

    async def _settle_pending_key(self, db_file: Path) -> None:
        pending = pending_key_file_for(db_file)
        pending_key = read_key_file(pending)
        if pending_key is None:
            return
        t = self.tables.meta
        row = await self.canary()
        opens_with_pending = False
        if row is not None:
            try:
                self.unseal(t, row, "value")
            except ConfigError:
                candidate = SecretCipher.from_text(pending_key)
                try:
                    candidate.decrypt(row["value"], aad=self.tables.aad(t, "value", row))
                except ConfigError:
                    return  # neither key opens it: verify_secret_key reports the wrong key
                self._cipher = candidate
                opens_with_pending = True
        settle_pending_key(db_file, pending_key, promote=opens_with_pending)

    @property
    def lock_slots(self) -> anyio.Semaphore:
        """One slot per lock connection: a waiter beyond them waits here, within its deadline."""
        if self._lock_slots is None:  # created lazily, inside the event loop that uses it
            self._lock_slots = anyio.Semaphore(LOCK_CONNECTIONS)
        return self._lock_slots

    @property
    def url(self) -> str:
        """The database URL without its password."""
        return self._url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r}, table_prefix={self.tables.prefix!r})"

    async def run(
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
        limit = self.deadlines.operation
        try:
            with anyio.fail_after(limit):
                return await self._attempts(action, fn, idempotent=idempotent)
        except TimeoutError:
            raise StoreError(
                f"credential store: {action} timed out after {limit:g} s on {where(self._url)}"
            ) from None

    async def _attempts(
        self, action: str, fn: Callable[[AsyncConnection], Awaitable[T]], *, idempotent: bool
    ) -> T:
        for attempt in range(1, ATTEMPTS + 1):
            committing = False
            try:
                async with self._engine.connect() as conn:
                    result = await fn(conn)
                    committing = True
                    await conn.commit()
                    return result
            except (SQLAlchemyError, OSError) as exc:
                # asyncpg's own timeouts are TimeoutError (an OSError): transient too.
                retry = idempotent or not committing
                if attempt < ATTEMPTS and retry and is_transient(exc):
                    await anyio.sleep(_BACKOFF * attempt)
                    continue
                raise store_error(action, exc, self._url) from None
        raise AssertionError("unreachable")

    async def rows(self, action: str, stmt: Executable) -> list[RowMapping]:
        async def fn(conn: AsyncConnection) -> list[RowMapping]:
            return list((await conn.execute(stmt)).mappings().all())

        return await self.run(action, fn)

    async def write(self, action: str, stmt: Executable) -> int:
        """Execute one statement; returns the affected row count."""

        async def fn(conn: AsyncConnection) -> int:
            return (await conn.execute(stmt)).rowcount

        return await self.run(action, fn)

    def insert(self, table: Table, values: Mapping[str, Any]) -> Insert:
        if self.is_postgres:
            return postgresql.insert(table).values(**values)
        return sqlite.insert(table).values(**values)

    def upsert(self, table: Table, values: Mapping[str, Any], keep: tuple[str, ...] = ()) -> Insert:
        """INSERT ... ON CONFLICT (primary key) DO UPDATE every column but ``keep``."""
        stmt = self.insert(table, values)
        keys = [c.name for c in table.primary_key.columns]
        changed = {k: stmt.excluded[k] for k in values if k not in keys and k not in keep}
        return stmt.on_conflict_do_update(index_elements=keys, set_=changed)

    def seal(self, table: Table, row: dict[str, Any], *columns: str) -> dict[str, Any]:
        """``row`` with ``columns`` encrypted in place (``None`` stays ``None``)."""
        for c in columns:
            if row[c] is not None:
                row[c] = self._cipher.encrypt(row[c], aad=self.tables.aad(table, c, row))
        return row

    def unseal(self, table: Table, row: RowMapping, column: str) -> Any:
        value = row[column]
        if value is None:
            return None
        return self._cipher.decrypt(value, aad=self.tables.aad(table, column, row))

    async def check_migrated(self) -> None:
        """``ConfigError`` unless the newest migration has been applied."""

        async def fn(conn: AsyncConnection) -> tuple[str, ...]:
            return await conn.run_sync(current_heads, self.tables.prefix)

        heads = await self.run("reading the migration state", fn)
        if head_revision() not in heads:
            raise ConfigError(
                f"database is not migrated (at {','.join(heads) or 'no revision'}, "
                f"need {head_revision()}): run `lark-service db upgrade`"
            )

    async def canary(self) -> RowMapping | None:
        t = self.tables.meta
        found = await self.rows("checking the secret key", select(t).where(t.c.key == "canary"))
        return found[0] if found else None

    async def verify_secret_key(self) -> None:
        """Decrypt the canary row (``ConfigError`` on a wrong key), writing it if absent."""
        t = self.tables.meta
        if (row := await self.canary()) is None:
            sealed = self.seal(t, {"key": "canary", "value": _CANARY}, "value")
            insert = self.insert(t, sealed).on_conflict_do_nothing(index_elements=["key"])
            await self.write("writing the key canary", insert)
            # Another process may have won the race with its own key: check what is stored.
            row = await self.canary()
        if row is None:
            raise StoreError("credential store: the key canary vanished while being written")
        self.unseal(t, row, "value")

    async def aclose(self) -> None:
        await self._engine.dispose()
        await self.lock_engine.dispose()
