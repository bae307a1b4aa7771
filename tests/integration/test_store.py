"""The SQL credential stores against real databases: each test runs on PostgreSQL and on SQLite."""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from lark_service.adapters.postgres import (
    SqlDatabase,
    current_async,
    downgrade_async,
    embedded_database_url,
    generate_key,
    rotate_secret_key,
    upgrade_async,
)
from lark_service.adapters.postgres.deadlines import StoreDeadlines
from lark_service.adapters.postgres.locks import advisory_lock_id
from lark_service.adapters.postgres.migrations import head_revision, version_table
from lark_service.adapters.postgres.schema import build_tables
from lark_service.domain.apps import AppConfig, AppType
from lark_service.domain.errors import ConfigError, StoreError
from lark_service.domain.tokens import AccessToken, TokenKey, TokenKind, UserToken
from lark_service.entrypoints import cli_db
from lark_service.entrypoints.settings import load_settings
from tests.grant_store_support import check_granted_at

from .conftest import OpenStore, PgAdmin, SqlStores

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SECRET = "app-secret-PLAINTEXT-1"
TOKEN = "t-token-PLAINTEXT-2"
TENANT = TokenKey(app_id="cli_a", kind=TokenKind.TENANT)
MARKET = TokenKey(app_id="cli_a", kind=TokenKind.TENANT, tenant_key="tk1")


def app(app_id: str = "cli_a", app_secret: str = SECRET, **kw: Any) -> AppConfig:
    return AppConfig(app_id=app_id, app_secret=app_secret, **kw)


def token(value: str = TOKEN, expires_at: float = 1000.5) -> AccessToken:
    return AccessToken(kind=TokenKind.TENANT, value=value, expires_at=expires_at, app_id="cli_a")


def grant(user_id: str = "ou_1", app_id: str = "cli_a") -> UserToken:
    return UserToken(
        app_id=app_id,
        user_id=user_id,
        access_token="u-access-PLAINTEXT-3",
        expires_at=1.5,
        refresh_token="ur-refresh-PLAINTEXT-4",
        refresh_expires_at=2.5,
        scope="im:message",
    )


async def seed(store: SqlStores) -> None:
    await store.apps.save_app(
        app(encrypt_key="ek-PLAINTEXT-5", verification_token="vt-PLAINTEXT-6")
    )
    await store.tokens.save_token(TENANT, token())
    await store.app_tickets.save_app_ticket("cli_a", "ticket-PLAINTEXT-7", expires_at=9.0)
    await store.user_grants.save_user_token(grant())


async def test_app_crud(store: SqlStores) -> None:
    b = app("cli_b", name="B", app_type=AppType.MARKETPLACE, domain="http://127.0.0.1:8089")
    a = app("cli_a", encrypt_key="ek", verification_token="vt", is_default=True)
    await store.apps.save_app(b)
    await store.apps.save_app(a)
    assert await store.apps.get_app("cli_b") == b
    assert await store.apps.get_app("cli_a") == a
    assert await store.apps.get_app("nope") is None
    b2 = app("cli_b", app_secret="rotated", enabled=False)
    await store.apps.save_app(b2)  # replace keeps its place in the listing
    assert await store.apps.list_apps() == [b2, a]


async def test_one_default_app_at_most(store: SqlStores) -> None:
    await store.apps.save_app(app("cli_a", is_default=True))
    await store.apps.save_app(app("cli_b", is_default=True))
    await store.apps.save_app(app("cli_c"))
    assert [(a.app_id, a.is_default) for a in await store.apps.list_apps()] == [
        ("cli_a", False),
        ("cli_b", True),
        ("cli_c", False),
    ]
    await store.apps.save_app(app("cli_a", is_default=True))
    defaults = [a.app_id for a in await store.apps.list_apps() if a.is_default]
    assert defaults == ["cli_a"]


async def test_tokens_are_stored_per_key(store: SqlStores) -> None:
    assert await store.tokens.load_token(TENANT) is None
    await store.tokens.save_token(TENANT, token("t-1"))
    await store.tokens.save_token(MARKET, token("t-2"))
    user_key = TokenKey(app_id="cli_a", kind=TokenKind.USER, user_id="ou_1")
    await store.tokens.save_token(user_key, token("u-3"))
    assert await store.tokens.load_token(TENANT) == token("t-1")
    assert await store.tokens.load_token(MARKET) == token("t-2")
    assert await store.tokens.load_token(user_key) == token("u-3")
    await store.tokens.save_token(TENANT, token("t-4", expires_at=2000.25))
    assert await store.tokens.load_token(TENANT) == token("t-4", expires_at=2000.25)
    await store.tokens.delete_token(TENANT)
    assert await store.tokens.load_token(TENANT) is None
    assert await store.tokens.load_token(MARKET) == token("t-2")


async def test_app_tickets(store: SqlStores) -> None:
    assert await store.app_tickets.load_app_ticket("cli_a") is None
    await store.app_tickets.save_app_ticket("cli_a", "ticket-1", expires_at=10.0)
    await store.app_tickets.save_app_ticket("cli_a", "ticket-2", expires_at=20.0)
    assert await store.app_tickets.load_app_ticket("cli_a") == "ticket-2"


async def test_user_tokens(store: SqlStores) -> None:
    assert await store.user_grants.load_user_token("cli_a", "ou_1") is None
    await store.user_grants.save_user_token(grant())
    await store.user_grants.save_user_token(grant("ou_2"))
    assert await store.user_grants.load_user_token("cli_a", "ou_1") == grant()
    await store.user_grants.delete_user_token("cli_a", "ou_1")
    assert await store.user_grants.load_user_token("cli_a", "ou_1") is None
    assert await store.user_grants.load_user_token("cli_a", "ou_2") == grant("ou_2")


async def test_a_refresh_keeps_when_the_user_granted_and_a_new_grant_has_its_own_time(
    store: SqlStores,
) -> None:
    await check_granted_at(store.user_grants)


async def test_grants_kept_before_migration_0006_were_granted_at_an_unknown_time(
    database_url: str, secret_key: str
) -> None:
    await upgrade_async(database_url)
    before = await SqlStores.open(database_url, secret_key=secret_key)
    await before.user_grants.save_user_token(msgspec.structs.replace(grant(), granted_at=7.0))
    await before.aclose()
    await downgrade_async(database_url, "0005")  # the grant as a 0005 database holds it
    await upgrade_async(database_url)
    after = await SqlStores.open(database_url, secret_key=secret_key)
    try:
        assert await after.user_grants.load_user_token("cli_a", "ou_1") == grant()  # None
        # a refresh does not make the time up either
        refreshed = msgspec.structs.replace(grant(), access_token="u-2", refresh_token="ur-2")
        await after.user_grants.save_user_token(refreshed)
        assert await after.user_grants.load_user_token("cli_a", "ou_1") == refreshed
    finally:
        await after.aclose()


async def test_remember_event_dedups(store: SqlStores) -> None:
    assert await store.processed_events.remember_event("ev1", expires_at=100.0) is True
    assert await store.processed_events.remember_event("ev1", expires_at=200.0) is False
    assert await store.processed_events.remember_event("ev2", expires_at=300.0) is True
    assert await store.processed_events.prune_events(before=250.0) == 1
    assert await store.processed_events.remember_event("ev1", expires_at=400.0) is True


async def test_delete_app_cascades(store: SqlStores) -> None:
    await seed(store)
    await store.apps.save_app(app("cli_b"))
    other = TokenKey(app_id="cli_b", kind=TokenKind.APP)
    await store.tokens.save_token(other, token())
    await store.user_grants.save_user_token(grant(app_id="cli_b"))
    assert await store.apps.delete_app("cli_a") is True
    assert await store.apps.get_app("cli_a") is None
    assert await store.tokens.load_token(TENANT) is None
    assert await store.app_tickets.load_app_ticket("cli_a") is None
    assert await store.user_grants.load_user_token("cli_a", "ou_1") is None
    assert await store.tokens.load_token(other) == token()
    assert await store.user_grants.load_user_token("cli_b", "ou_1") == grant(app_id="cli_b")
    assert await store.apps.delete_app("cli_a") is False


async def test_no_plaintext_secret_at_rest(store: SqlStores, database_url: str) -> None:
    await seed(store)
    engine = create_async_engine(database_url)
    dump = ""
    async with engine.connect() as conn:
        for table in build_tables().metadata.sorted_tables:
            rows = (await conn.execute(text(f"SELECT * FROM {table.name}"))).fetchall()
            dump += repr(rows)
    await engine.dispose()
    assert "cli_a" in dump and "1000.5" in dump  # the dump did read the rows
    assert "PLAINTEXT" not in dump


async def test_a_wrong_key_is_refused_at_open(open_store: OpenStore) -> None:
    await seed(await open_store())
    with pytest.raises(ConfigError, match=r"does not decrypt.*LARK_SERVICE_SECRET_KEY"):
        await open_store(secret_key=generate_key())


async def test_key_rotation(open_store: OpenStore, database_url: str, secret_key: str) -> None:
    await seed(await open_store())
    new = generate_key()
    with pytest.raises(ConfigError):  # the old key must decrypt: nothing changes
        await rotate_secret_key(database_url, [generate_key()], new)
    assert await rotate_secret_key(database_url, [secret_key], new) == 8
    rotated = await open_store(secret_key=new)
    assert await rotated.apps.get_app("cli_a") == app(
        encrypt_key="ek-PLAINTEXT-5", verification_token="vt-PLAINTEXT-6"
    )
    assert await rotated.tokens.load_token(TENANT) == token()
    assert await rotated.user_grants.load_user_token("cli_a", "ou_1") == grant()
    assert await rotated.app_tickets.load_app_ticket("cli_a") == "ticket-PLAINTEXT-7"
    with pytest.raises(ConfigError):
        await open_store(secret_key=secret_key)
    await open_store(secret_key=f"{new},{secret_key}")


async def test_an_unmigrated_database_says_what_to_run(database_url: str) -> None:
    with pytest.raises(ConfigError, match="lark-service db upgrade"):
        await SqlStores.open(database_url, secret_key=generate_key())


async def test_migrations_upgrade_downgrade_upgrade(database_url: str) -> None:
    async def tables() -> set[str]:
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        return names - {version_table("lark_")}

    expected = {t.name for t in build_tables().metadata.sorted_tables}
    assert await current_async(database_url) is None
    await upgrade_async(database_url)
    assert await current_async(database_url) == head_revision()
    assert await tables() == expected
    await downgrade_async(database_url, "base")
    assert await current_async(database_url) is None
    assert await tables() == set()
    await upgrade_async(database_url)
    assert await tables() == expected


async def test_models_match_migrations(store: SqlStores, database_url: str) -> None:
    def diff(conn: Connection) -> list[object]:
        opts = {"version_table": version_table("lark_"), "compare_type": True}
        return list(compare_metadata(MigrationContext.configure(conn, opts=opts), md))

    md = build_tables().metadata
    engine = create_async_engine(database_url)
    conn: AsyncConnection
    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []
    await engine.dispose()


async def test_refresh_lock_serialises_holders_of_one_key(open_store: OpenStore) -> None:
    first, second = await open_store(), await open_store()
    log: list[str] = []
    entered = anyio.Event()

    async def hold(store: SqlStores, name: str, key: TokenKey, ready: bool) -> None:
        async with store.tokens.token_refresh_lock(key):
            log.append(f"{name} in")
            if ready:
                entered.set()
                await anyio.sleep(0.3)
            log.append(f"{name} out")

    async with anyio.create_task_group() as tg:
        tg.start_soon(hold, first, "a", TENANT, True)
        await entered.wait()
        tg.start_soon(hold, second, "b", TENANT, False)
        tg.start_soon(hold, second, "other", MARKET, False)  # another key does not wait
    assert log.index("other out") < log.index("a out")
    assert log.index("a out") < log.index("b in")


async def test_refresh_lock_wait_is_bounded(
    open_store: OpenStore, database_url: str, secret_key: str
) -> None:
    first = await open_store()
    short = StoreDeadlines(lock=0.3)
    second = SqlStores(await SqlDatabase.open(database_url, secret_key=secret_key, deadlines=short))
    released = anyio.Event()

    async def hold() -> None:
        async with first.tokens.token_refresh_lock(TENANT):
            await released.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(hold)
        await anyio.sleep(0.05)
        with pytest.raises(StoreError, match="timed out"):
            async with second.tokens.token_refresh_lock(TENANT):
                pass
        released.set()
    async with second.tokens.token_refresh_lock(TENANT):
        pass
    await second.aclose()


async def test_advisory_lock_is_held_in_postgres(
    store: SqlStores, is_postgres: bool, database_url: str
) -> None:
    """Another session (host) holding the advisory lock makes the store wait."""
    if not is_postgres:
        pytest.skip("SQLite locks are in-process only")
    other = create_async_engine(database_url)
    lock_id = advisory_lock_id(f"lark_|{TENANT.as_str()}")
    async with other.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_id})
        with anyio.move_on_after(0.3) as scope:
            async with store.tokens.token_refresh_lock(TENANT):
                pass
        assert scope.cancelled_caught
        await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_id})
    await other.dispose()
    with anyio.fail_after(2):
        async with store.tokens.token_refresh_lock(TENANT):
            pass


async def test_reconnects_after_connections_are_killed(
    store: SqlStores, is_postgres: bool, database_url: str, pg_admin: PgAdmin
) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    await seed(store)
    database = make_url(database_url).database
    assert database and await pg_admin.terminate(database) >= 1
    assert [a.app_id for a in await store.apps.list_apps()] == ["cli_a"]
    await store.apps.save_app(app("cli_b"))
    async with store.tokens.token_refresh_lock(TENANT):
        await pg_admin.terminate(database)  # the lock's own connection dies too
    assert await store.processed_events.remember_event("ev", expires_at=1.0) is True


async def test_a_dropped_connection_mid_write_is_retried(
    store: SqlStores, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    calls = 0

    async def write(conn: AsyncConnection) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        await conn.execute(text("INSERT INTO lark_processed_events VALUES ('ev', 1.0)"))
        return calls

    assert await store.db.run("test write", write) == 2
    assert await store.processed_events.remember_event("ev", expires_at=1.0) is False


async def test_failures_are_store_errors_without_the_password() -> None:
    url = "postgresql+asyncpg://postgres:hunter2-pw@127.0.0.1:1/nowhere"
    with pytest.raises(StoreError, match="ConnectionRefusedError") as info:
        await SqlStores.open(url, secret_key=generate_key())
    assert "hunter2" not in repr(info.value)
    assert "PostgreSQL at 127.0.0.1:1, database 'nowhere'" in str(info.value)
    assert "is PostgreSQL running?" in str(info.value)
    assert info.value.__suppress_context__  # the driver's exception is not chained


async def test_keys_default_to_a_file_for_sqlite_only(database_url: str, is_postgres: bool) -> None:
    await upgrade_async(database_url)
    if is_postgres:
        with pytest.raises(ConfigError, match="LARK_SERVICE_SECRET_KEY is required"):
            await SqlStores.open(database_url, secret_key=None)
        return
    key_file = f"{make_url(database_url).database}.key"
    store = await SqlStores.open(database_url, secret_key=None)
    await seed(store)
    await store.aclose()
    again = await SqlStores.open(database_url, secret_key=None)
    assert await again.tokens.load_token(TENANT) == token()
    await again.aclose()
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
    os.unlink(key_file)
    with pytest.raises(ConfigError, match="missing"):
        await SqlStores.open(database_url, secret_key=None)
    assert not os.path.exists(key_file)


async def test_cli_db_and_secret_key_commands(
    database_url: str,
    is_postgres: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser(prog="lark-service")
    cli_db.add_parsers(parser.add_subparsers(required=True))

    async def run(*argv: str) -> str:
        args = parser.parse_args(argv)
        assert await args.func(args) == 0
        return capsys.readouterr().out

    monkeypatch.setenv("LARK_SERVICE_DATABASE_URL", database_url)
    assert "no revision" in await run("db", "current")
    assert f"{head_revision()} (head)" in await run("db", "upgrade")
    old = (await run("secret-key", "generate")).strip()
    new = (await run("secret-key", "generate")).strip()
    if is_postgres:
        monkeypatch.setenv("LARK_SERVICE_SECRET_KEY", old)
    store = await SqlStores.open(database_url, secret_key=old if is_postgres else None)
    await seed(store)
    await store.aclose()
    monkeypatch.setenv("LARK_SERVICE_NEW_SECRET_KEY", new)
    out = await run("secret-key", "rotate")
    assert "re-encrypted 8 values" in out and new not in out and old not in out
    # SQLite: the key file now holds the new key; PostgreSQL: the env var must change.
    rotated = await SqlStores.open(database_url, secret_key=new if is_postgres else None)
    assert await rotated.tokens.load_token(TENANT) == token()
    await rotated.aclose()
    assert "no revision" in await run("db", "downgrade", "base", "--yes")


async def test_default_database_url_lives_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def embedded(env: dict[str, str]) -> str:
        return embedded_database_url(load_settings(env).resolved_data_dir())

    xdg = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert embedded(xdg) == f"sqlite+aiosqlite:///{tmp_path}/xdg/lark-service/lark-service.db"
    data = {**xdg, "LARK_SERVICE_DATA_DIR": str(tmp_path / "data")}
    assert embedded(data) == f"sqlite+aiosqlite:///{tmp_path}/data/lark-service.db"
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
