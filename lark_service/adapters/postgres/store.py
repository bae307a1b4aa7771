"""``CredentialStore`` on SQLAlchemy 2 async: PostgreSQL (asyncpg) or SQLite (aiosqlite).

App secrets, tokens, tickets and user grants are stored encrypted (``SecretCipher``, with
the row's table, column and key as associated data, so ciphertexts cannot be swapped
between rows). Failures raise ``StoreError``; see ``core`` for the retry policy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Self

import anyio
import msgspec
from sqlalchemy import ColumnElement, RowMapping, and_, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from lark_service.adapters.postgres import locks
from lark_service.adapters.postgres.core import LOCK_CONNECTIONS, StoreCore
from lark_service.adapters.postgres.keyfile import resolve_cipher, write_key_file
from lark_service.adapters.postgres.schema import DEFAULT_PREFIX
from lark_service.domain.apps import AppConfig, AppType
from lark_service.domain.errors import ConfigError
from lark_service.domain.ports.credentials import CredentialStore
from lark_service.domain.tokens import AccessToken, TokenKey, UserToken

__all__ = ["LOCK_TIMEOUT", "SqlCredentialStore"]

LOCK_TIMEOUT = 10.0
_ACCESS_TOKEN = msgspec.json.Decoder(AccessToken)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SqlCredentialStore(StoreCore, CredentialStore):
    """Apps, tokens, tickets, user grants and event ids in tables named ``{prefix}...``.

    Build with ``await SqlCredentialStore.open(url, secret_key=...)``, which also checks
    the schema and the key; the constructor alone does no I/O.
    """

    @classmethod
    async def open(
        cls, database_url: str, *, secret_key: str | None, table_prefix: str = DEFAULT_PREFIX
    ) -> Self:
        """Open, check that the schema is migrated and that the key decrypts the secrets.

        ``secret_key`` is ``LARK_SERVICE_SECRET_KEY``'s value (``"new,old"`` while rotating).
        Without one, an SQLite file uses (or creates) the key file next to it; PostgreSQL
        requires a key. A key that does not decrypt the stored canary → ``ConfigError``.
        """
        cipher, new_key_file = resolve_cipher(database_url, secret_key)
        store = cls(database_url, cipher=cipher, table_prefix=table_prefix)
        try:
            await store.check_migrated()
            if new_key_file is not None:
                path, key = new_key_file
                if await store._canary() is not None:
                    raise ConfigError(
                        f"secret key file {path} is missing but the database holds "
                        "encrypted secrets: restore the file or set LARK_SERVICE_SECRET_KEY"
                    )
                write_key_file(path, key)
            await store.verify_secret_key()
        except BaseException:
            await store.aclose()
            raise
        return store

    # -- apps -----------------------------------------------------------------------------

    def _app(self, r: RowMapping) -> AppConfig:
        t = self._t.apps
        return AppConfig(
            app_id=r["app_id"],
            app_secret=self._unseal(t, r, "app_secret"),
            name=r["name"],
            app_type=AppType(r["app_type"]),
            domain=r["domain"],
            encrypt_key=self._unseal(t, r, "encrypt_key"),
            verification_token=self._unseal(t, r, "verification_token"),
            is_default=r["is_default"],
            enabled=r["enabled"],
        )

    async def list_apps(self) -> list[AppConfig]:
        t = self._t.apps
        rows = await self._rows("listing apps", select(t).order_by(t.c.created_at, t.c.app_id))
        return [self._app(r) for r in rows]

    async def get_app(self, app_id: str) -> AppConfig | None:
        t = self._t.apps
        rows = await self._rows("reading an app", select(t).where(t.c.app_id == app_id))
        return self._app(rows[0]) if rows else None

    async def save_app(self, app: AppConfig) -> None:
        t, now = self._t.apps, _now()
        row = msgspec.structs.asdict(app) | {"app_type": app.app_type.value}
        row |= {"created_at": now, "updated_at": now}
        row = self._seal(t, row, "app_secret", "encrypt_key", "verification_token")
        await self._write("saving an app", self._upsert(t, row, keep=("created_at",)))

    async def delete_app(self, app_id: str) -> bool:
        async def fn(conn: AsyncConnection) -> bool:
            deleted = 0
            for t in self._t.per_app():  # the apps table comes last
                deleted = (await conn.execute(delete(t).where(t.c.app_id == app_id))).rowcount
            return deleted > 0

        return await self._run("deleting an app", fn)

    # -- tokens and tickets ---------------------------------------------------------------

    def _key_where(self, key: TokenKey) -> ColumnElement[bool]:
        c = self._t.tokens.c
        return and_(
            c.app_id == key.app_id,
            c.kind == key.kind.value,
            c.tenant_key == key.tenant_key,
            c.user_id == key.user_id,
        )

    async def load_token(self, key: TokenKey) -> AccessToken | None:
        t = self._t.tokens
        rows = await self._rows("reading a token", select(t).where(self._key_where(key)))
        return _ACCESS_TOKEN.decode(self._unseal(t, rows[0], "token")) if rows else None

    async def save_token(self, key: TokenKey, token: AccessToken) -> None:
        t = self._t.tokens
        row = msgspec.structs.asdict(key) | {"kind": key.kind.value, "updated_at": _now()}
        row |= {"token": msgspec.json.encode(token).decode(), "expires_at": token.expires_at}
        await self._write("saving a token", self._upsert(t, self._seal(t, row, "token")))

    async def delete_token(self, key: TokenKey) -> None:
        await self._write("deleting a token", delete(self._t.tokens).where(self._key_where(key)))

    async def load_app_ticket(self, app_id: str) -> str | None:
        t = self._t.app_tickets
        rows = await self._rows("reading an app ticket", select(t).where(t.c.app_id == app_id))
        return str(self._unseal(t, rows[0], "ticket")) if rows else None

    async def save_app_ticket(self, app_id: str, ticket: str, *, expires_at: float) -> None:
        t = self._t.app_tickets
        row = {"app_id": app_id, "ticket": ticket, "expires_at": expires_at, "updated_at": _now()}
        await self._write("saving an app ticket", self._upsert(t, self._seal(t, row, "ticket")))

    # -- user grants ----------------------------------------------------------------------

    def _user_where(self, app_id: str, user_id: str) -> ColumnElement[bool]:
        c = self._t.user_tokens.c
        return and_(c.app_id == app_id, c.user_id == user_id)

    async def load_user_token(self, app_id: str, user_id: str) -> UserToken | None:
        t = self._t.user_tokens
        stmt = select(t).where(self._user_where(app_id, user_id))
        rows = await self._rows("reading a user token", stmt)
        if not rows:
            return None
        r = rows[0]
        return UserToken(
            app_id=r["app_id"],
            user_id=r["user_id"],
            access_token=self._unseal(t, r, "access_token"),
            expires_at=r["expires_at"],
            refresh_token=self._unseal(t, r, "refresh_token"),
            refresh_expires_at=r["refresh_expires_at"],
            scope=r["scope"],
        )

    async def save_user_token(self, token: UserToken) -> None:
        t = self._t.user_tokens
        row = msgspec.structs.asdict(token) | {"updated_at": _now()}
        row = self._seal(t, row, "access_token", "refresh_token")
        await self._write("saving a user token", self._upsert(t, row))

    async def delete_user_token(self, app_id: str, user_id: str) -> None:
        stmt = delete(self._t.user_tokens).where(self._user_where(app_id, user_id))
        await self._write("deleting a user token", stmt)

    # -- events and locks -----------------------------------------------------------------

    async def remember_event(self, event_id: str, *, expires_at: float) -> bool:
        t = self._t.processed_events
        stmt = self._insert(t, {"event_id": event_id, "expires_at": expires_at})
        stmt = stmt.on_conflict_do_nothing(index_elements=["event_id"])

        async def fn(conn: AsyncConnection) -> bool:
            return (await conn.execute(stmt)).rowcount == 1

        # Not idempotent: retrying an uncertain commit could call a new event a duplicate.
        return await self._run("recording an event id", fn, idempotent=False)

    async def prune_events(self, *, before: float) -> int:
        """Forget event ids whose ``expires_at`` is before ``before``; returns how many."""
        t = self._t.processed_events
        return await self._write("pruning event ids", delete(t).where(t.c.expires_at < before))

    @contextlib.asynccontextmanager
    async def token_refresh_lock(self, key: TokenKey) -> AsyncIterator[None]:
        """Serialise refreshes of ``key``: in-process always, across hosts on PostgreSQL.

        Waits at most ``LOCK_TIMEOUT`` seconds in all, then raises ``StoreError``.
        """
        name = key.as_str()
        deadline = anyio.current_time() + LOCK_TIMEOUT
        async with locks.local_lock(f"{self._lock_scope}|{name}", wait=LOCK_TIMEOUT):
            if not self._postgres:
                yield
                return
            if self._lock_slots is None:
                self._lock_slots = anyio.Semaphore(LOCK_CONNECTIONS)
            left = max(deadline - anyio.current_time(), 0.0)
            with anyio.fail_after(left if left > 0 else 0.001):
                await self._lock_slots.acquire()
            try:
                left = max(deadline - anyio.current_time(), 0.0)
                async with locks.advisory_lock(
                    self._lock_engine, f"{self._t.prefix}|{name}", wait=left
                ):
                    yield
            finally:
                self._lock_slots.release()
