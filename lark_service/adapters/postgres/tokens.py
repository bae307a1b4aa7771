"""`TokenStore` on `SqlDatabase`, with the refresh lock (advisory lock on PostgreSQL).

A token row is a cache: one that this process's keys cannot open (a replica still on the
old key during a rolling key rotation) reads as absent, so the pool fetches from Lark.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
import msgspec
from sqlalchemy import ColumnElement, and_, delete, select

from lark_service.adapters.postgres import locks
from lark_service.adapters.postgres.database import LOCK_CONNECTIONS, SqlDatabase
from lark_service.adapters.postgres.timestamps import utc_now
from lark_service.domain.errors import ConfigError, StoreError
from lark_service.domain.tokens import AccessToken, TokenKey

__all__ = ["SqlTokenStore"]

_ACCESS_TOKEN = msgspec.json.Decoder(AccessToken)
log = logging.getLogger("lark_service.store")


class SqlTokenStore:
    """The ``{prefix}tokens`` table: one sealed token per (app, kind, tenant, user)."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._warned_unreadable = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    def _key_where(self, key: TokenKey) -> ColumnElement[bool]:
        c = self._db.tables.tokens.c
        return and_(
            c.app_id == key.app_id,
            c.kind == key.kind.value,
            c.tenant_key == key.tenant_key,
            c.user_id == key.user_id,
        )

    async def load_token(self, key: TokenKey) -> AccessToken | None:
        t = self._db.tables.tokens
        rows = await self._db.rows("reading a token", select(t).where(self._key_where(key)))
        if not rows:
            return None
        try:
            return _ACCESS_TOKEN.decode(self._db.unseal(t, rows[0], "token"))
        except (ConfigError, msgspec.DecodeError):
            if not self._warned_unreadable:
                self._warned_unreadable = True
                log.warning(
                    "a stored token does not decrypt with this process's secret key (is a "
                    "key rotation rolling out?): such tokens are fetched from Lark instead"
                )
            return None

    async def save_token(self, key: TokenKey, token: AccessToken) -> None:
        t = self._db.tables.tokens
        row = msgspec.structs.asdict(key) | {"kind": key.kind.value, "updated_at": utc_now()}
        row |= {"token": msgspec.json.encode(token).decode(), "expires_at": token.expires_at}
        stmt = self._db.upsert(t, self._db.seal(t, row, "token"))
        await self._db.write("saving a token", stmt)

    async def delete_token(self, key: TokenKey) -> None:
        stmt = delete(self._db.tables.tokens).where(self._key_where(key))
        await self._db.write("deleting a token", stmt)

    @contextlib.asynccontextmanager
    async def token_refresh_lock(self, key: TokenKey) -> AsyncIterator[None]:
        """Serialise refreshes of ``key``: in-process always, across hosts on PostgreSQL.

        Waits at most ``db.deadlines.lock`` seconds in all (for the in-process lock, for one
        of the ``LOCK_CONNECTIONS`` lock connections, then for the advisory lock), then
        raises ``StoreError``: the pool then fetches without the lock.
        """
        db = self._db
        name = key.as_str()
        wait = db.deadlines.lock
        deadline = anyio.current_time() + wait
        async with locks.local_lock(f"{db.lock_scope}|{name}", wait=wait):
            if not db.is_postgres:
                yield
                return
            slots = db.lock_slots
            left = max(deadline - anyio.current_time(), 0.0)
            try:
                with anyio.fail_after(left if left > 0 else 0.001):
                    await slots.acquire()
            except TimeoutError:
                raise StoreError(
                    f"credential store: all {LOCK_CONNECTIONS} token lock "
                    f"connections busy for {wait:g} s"
                ) from None
            try:
                left = max(deadline - anyio.current_time(), 0.0)
                async with locks.advisory_lock(
                    db.lock_engine, f"{db.tables.prefix}|{name}", wait=left
                ):
                    yield
            finally:
                slots.release()
