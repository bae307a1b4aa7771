"""Fixtures for integration tests: a fresh database per test, on PostgreSQL and on SQLite.

PostgreSQL is reached through ``LARK_SERVICE_TEST_PG_ADMIN_URL`` (default: the local
server as ``postgres`` with trust auth). Each test gets a uniquely named database, dropped
afterwards; the PostgreSQL cases are skipped if the server cannot be reached.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from lark_service.adapters.postgres import (
    SqlDatabase,
    generate_key,
    sql_credential_stores,
    upgrade_async,
)

PG_ADMIN_URL = os.environ.get(
    "LARK_SERVICE_TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


class SqlStores:
    """The credential stores on one opened `SqlDatabase` (``db``), by concern."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db
        bundle = sql_credential_stores(db)
        self.apps = bundle.apps
        self.tokens = bundle.tokens
        self.app_tickets = bundle.app_tickets
        self.user_grants = bundle.user_grants
        self.processed_events = bundle.processed_events

    @classmethod
    async def open(cls, database_url: str, *, secret_key: str | None) -> SqlStores:
        return cls(await SqlDatabase.open(database_url, secret_key=secret_key))

    async def aclose(self) -> None:
        await self.db.aclose()


OpenStore = Callable[..., Awaitable[SqlStores]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class PgAdmin:
    """An AUTOCOMMIT connection to the ``postgres`` database, for creating test databases."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def execute(self, sql: str, **params: object) -> list[tuple[object, ...]]:
        async with self.engine.connect() as conn:
            result = await conn.execute(text(sql), params)
            return [tuple(r) for r in result.fetchall()] if result.returns_rows else []

    async def terminate(self, database: str) -> int:
        """Kill every session on ``database`` (but our own); returns how many."""
        rows = await self.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid()",
            db=database,
        )
        return len(rows)


async def _connect_admin() -> PgAdmin:
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect():
            pass
    except OSError as exc:
        await engine.dispose()
        if os.environ.get("CI"):
            # CI starts PostgreSQL (.ci/run): there, unreachable is a failure, not a skip.
            raise
        pytest.skip(f"PostgreSQL not reachable ({type(exc).__name__})")
    return PgAdmin(engine)


@pytest.fixture
async def pg_admin(anyio_backend: str) -> AsyncIterator[PgAdmin]:
    admin = await _connect_admin()
    yield admin
    await admin.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty, unmigrated database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    admin = await _connect_admin()
    name = f"lark_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.terminate(name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.engine.dispose()


@pytest.fixture
def secret_key() -> str:
    return generate_key()


@pytest.fixture
async def open_store(database_url: str, secret_key: str) -> AsyncIterator[OpenStore]:
    """Open more stores on the migrated database (closed at teardown)."""
    await upgrade_async(database_url)
    opened: list[SqlStores] = []

    async def open_(*, secret_key: str | None = secret_key) -> SqlStores:
        store = await SqlStores.open(database_url, secret_key=secret_key)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.aclose()


@pytest.fixture
async def store(open_store: OpenStore) -> SqlStores:
    """A store on a freshly migrated database, for both dialects."""
    return await open_store()


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")
