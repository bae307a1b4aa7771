"""SQL job and API-key stores, migration 0002, and ``keys`` commands on PostgreSQL and SQLite."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from lark_service.adapters.memory.clock import ManualClock
from lark_service.adapters.postgres import SqlDatabase, downgrade_async, generate_key, upgrade_async
from lark_service.adapters.postgres.api_keys import SqlApiKeyStore
from lark_service.adapters.postgres.jobs import SqlJobStore
from lark_service.application.usecases.keys import ApiKeyService
from lark_service.domain.api_keys import ApiKey, hash_api_key
from lark_service.domain.errors import NotFoundError, StoreError
from lark_service.domain.jobs import JobRecord
from lark_service.entrypoints import cli_service

pytestmark = [pytest.mark.integration]


@pytest.fixture
async def migrated(database_url: str) -> str:
    await upgrade_async(database_url)
    return database_url


@pytest.fixture
async def db(migrated: str) -> AsyncIterator[SqlDatabase]:
    database = await SqlDatabase.open(migrated, secret_key=generate_key())
    yield database
    await database.aclose()


@pytest.fixture
def jobs(db: SqlDatabase) -> SqlJobStore:
    return SqlJobStore(db)


@pytest.fixture
def keys(db: SqlDatabase) -> SqlApiKeyStore:
    return SqlApiKeyStore(db)


@pytest.mark.anyio
async def test_job_records_are_upserted_and_listed(jobs: SqlJobStore) -> None:
    assert await jobs.get_job("j1") is None
    await jobs.save_job(JobRecord(job_id="j1", app_id="cli_a", status="queued", updated_at=1.0))
    sent = JobRecord(
        job_id="j1", app_id="cli_a", status="sent", attempts=2, message_id="om_1", updated_at=2.0
    )
    await jobs.save_job(sent)
    failed = JobRecord(
        job_id="j2",
        app_id="cli_b",
        status="failed",
        attempts=1,
        error_code=99991663,
        error_msg="BadRequestError: nope",
        log_id="log-1",
        updated_at=3.0,
    )
    await jobs.save_job(failed)
    assert await jobs.get_job("j1") == sent
    assert await jobs.get_job("j2") == failed
    assert [r.job_id for r in await jobs.list_jobs()] == ["j2", "j1"]
    assert [r.job_id for r in await jobs.list_jobs(status="sent")] == ["j1"]
    assert len(await jobs.list_jobs(limit=1)) == 1


@pytest.mark.anyio
async def test_api_keys_found_by_digest_and_revoked(keys: SqlApiKeyStore) -> None:
    service = ApiKeyService(keys, clock=ManualClock(), cache_ttl=0)
    made = await service.create(["send", "read"], name="ci")
    found = await service.authenticate(made.key)
    assert found is not None and found.scopes == ("send", "read") and found.name == "ci"
    stored = await keys.list_keys()
    assert [k.key_hash for k in stored] == [hash_api_key(made.key)]
    await service.revoke(made.key_id)
    assert await service.authenticate(made.key) is None
    assert await keys.revoke_key(made.key_id, revoked_at=5.0)  # revoking twice: still there
    with pytest.raises(NotFoundError):
        await service.revoke("nope")
    assert await service.ensure("provisioned-admin-key-0123456789")
    assert not await service.ensure("provisioned-admin-key-0123456789")


@pytest.mark.anyio
async def test_key_digest_is_unique(keys: SqlApiKeyStore) -> None:
    key = ApiKey(key_id="k1", key_hash="h" * 64, scopes=("read",))
    await keys.save_key(key)
    with pytest.raises(StoreError):
        await keys.save_key(ApiKey(key_id="k2", key_hash="h" * 64, scopes=("admin",)))


@pytest.mark.anyio
async def test_the_key_itself_is_never_stored(keys: SqlApiKeyStore, migrated: str) -> None:
    made = await ApiKeyService(keys, clock=ManualClock()).create(["admin"])
    engine = create_async_engine(migrated)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM lark_api_keys"))).fetchall()
    await engine.dispose()
    assert rows and made.key not in repr(rows)


@pytest.mark.anyio
async def test_migration_0002_down_and_up(migrated: str) -> None:
    async def names() -> set[str]:
        engine = create_async_engine(migrated)
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        return found

    assert {"lark_jobs", "lark_api_keys"} <= await names()
    await downgrade_async(migrated, "0001")
    assert not {"lark_jobs", "lark_api_keys"} & await names()
    assert "lark_apps" in await names()
    await upgrade_async(migrated)
    assert {"lark_jobs", "lark_api_keys"} <= await names()


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli_service.add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = asyncio.run(args.func(args))
    return code


def test_keys_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LARK_SERVICE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LARK_SERVICE_DATABASE_URL", raising=False)
    assert run_cli(["keys", "create", "--scope", "send", "--scope", "read", "--name", "ci"]) == 0
    out = capsys.readouterr()
    key = out.out.strip()
    assert key.startswith("lks_") and "not shown again" in out.err
    assert run_cli(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    key_id = listing.split("\t")[0]
    assert "send,read\tci" in listing and "active" in listing and key not in listing
    assert run_cli(["keys", "revoke", key_id]) == 0
    capsys.readouterr()
    assert run_cli(["keys", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
