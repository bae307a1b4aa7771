"""Issue 8 items 1, 3, 4, 6: the SQL store failing under the pool, through a TCP proxy.

The proxy (``tcp_proxy.py``) sits between the store and the real PostgreSQL on
127.0.0.1:5432 and drops, resets or blocks traffic on command. Whatever the store does,
every call that misses the token cache must finish within seconds: the store's deadlines
fire and the pool fetches from Lark directly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from pathlib import Path

import pytest

from lark_service.adapters.postgres import (
    SqlDatabase,
    StoreDeadlines,
    generate_key,
    rotate_secret_key,
    sql_credential_stores,
    upgrade_async,
)
from lark_service.adapters.postgres.keyfile import (
    STALE_PENDING_AGE,
    key_file_for,
    pending_key_file_for,
    read_key_file,
    write_key_file,
)
from lark_service.application import CredentialPool
from lark_service.domain import AppConfig, ConfigError, TokenKey, TokenKind
from lark_service.domain.tokens import AccessToken
from lark_service.entrypoints import cli_db
from lark_service.entrypoints.embed import open_pool
from lark_service.testing.fake_lark import FakeLark
from tests.conftest import FAST_RETRY, make_apps
from tests.integration.pg_proxy import pg_url, proxy, via
from tests.integration.tcp_proxy import Mode, TcpProxy

__all__ = ["pg_url", "proxy"]  # fixtures

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

FAST = StoreDeadlines(connect=1.0, statement=1.0, operation=2.0, lock=3.0)
CALL_BUDGET = 15.0  # a call that takes longer than this is counted as hung


async def timed_calls(pool: CredentialPool, app_ids: list[str]) -> tuple[list[object], float]:
    started = time.monotonic()
    outcomes = await asyncio.gather(
        *(asyncio.wait_for(pool.tenant_access_token(a), CALL_BUDGET) for a in app_ids),
        return_exceptions=True,
    )
    return list(outcomes), time.monotonic() - started


@pytest.mark.parametrize("mode", ["drop", "block", "reset"])
async def test_store_that_stops_answering_costs_seconds_not_hours(
    mode: Mode, proxy: TcpProxy, pg_url: str, fake: FakeLark, base_url: str
) -> None:
    """Item 1: 20 callers missing the cache while PostgreSQL drops/blocks/resets."""
    apps = make_apps(fake, 21, prefix=f"cli_{mode}")
    key = generate_key()
    db = await SqlDatabase.open(via(proxy, pg_url), secret_key=key, deadlines=FAST)
    try:
        async with open_pool(
            apps=apps, base_url=base_url, stores=sql_credential_stores(db), retry=FAST_RETRY
        ) as pool:
            await pool.tenant_access_token(apps[0].app_id)  # the store works: warm pool
            proxy.set_mode(mode)
            outcomes, elapsed = await timed_calls(pool, [a.app_id for a in apps[1:]])
            hung = [o for o in outcomes if isinstance(o, TimeoutError)]
            failed = [o for o in outcomes if isinstance(o, BaseException)]
            assert hung == [] and failed == []
            assert all(isinstance(o, str) and o.startswith("t-") for o in outcomes)
            assert elapsed < 2 * FAST.operation + FAST.lock + 2
            # the store comes back: tokens are stored and read again
            proxy.set_mode("pass")
            for app in apps[1:]:
                pool.forget_tokens(app.app_id)
            with_store, _ = await timed_calls(pool, [a.app_id for a in apps[1:3]])
            assert all(isinstance(o, str) for o in with_store)
    finally:
        proxy.set_mode("pass")
        await db.aclose()


async def test_slow_refreshes_overflowing_the_lock_slots_do_not_fail_calls(
    proxy: TcpProxy, pg_url: str, fake: FakeLark, base_url: str
) -> None:
    """Item 3: 100 cold apps, 0.5 s token latency: more than 4 refreshes overlap for longer
    than the lock deadline (12.5 s of queueing for 4 lock connections, against 3 s here and
    10 s by default); none may fail (before: 20/100 raised builtins.TimeoutError)."""
    apps = make_apps(fake, 100, prefix="cli_cold")
    db = await SqlDatabase.open(
        via(proxy, pg_url), secret_key=generate_key(), deadlines=StoreDeadlines(lock=3.0)
    )
    fake.inject_fault("latency", path_prefix="/open-apis/auth/", latency=0.5, count=1000)
    try:
        async with open_pool(
            apps=apps, base_url=base_url, stores=sql_credential_stores(db), retry=FAST_RETRY
        ) as pool:
            outcomes, elapsed = await timed_calls(pool, [a.app_id for a in apps])
    finally:
        await db.aclose()
    errors = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    assert errors == []
    assert fake.token_requests() == 100
    assert elapsed < 10.0


async def test_token_row_under_a_newer_key_is_a_cache_miss_warned_once(
    pg_url: str, fake: FakeLark, base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Item 4: a replica still on the old key reads rows written under the new key."""
    old, new = generate_key(), generate_key()
    apps = make_apps(fake, 2, prefix="cli_roll")
    stale = await SqlDatabase.open(pg_url, secret_key=old)  # running since before the rollout
    rotated = await SqlDatabase.open(pg_url, secret_key=f"{new},{old}")
    try:
        new_tokens = sql_credential_stores(rotated).tokens
        for app in apps:  # rows written by a replica already on the new key
            key = TokenKey(app_id=app.app_id, kind=TokenKind.TENANT)
            expires = fake.now() + 7000
            await new_tokens.save_token(
                key, AccessToken(kind=TokenKind.TENANT, value="t-new", expires_at=expires)
            )
        caplog.set_level(logging.WARNING)
        async with open_pool(
            apps=apps, base_url=base_url, stores=sql_credential_stores(stale)
        ) as pool:
            got = [await pool.tenant_access_token(a.app_id) for a in apps]
        assert all(g.startswith("t-") and g != "t-new" for g in got)
        assert fake.token_requests() == 2
        unreadable = [r for r in caplog.records if "does not decrypt" in r.getMessage()]
        assert len(unreadable) == 1
    finally:
        await rotated.aclose()
        await stale.aclose()


async def test_rotation_stopped_between_commit_and_rename_opens_with_pending_key(
    tmp_path: Path,
) -> None:
    """Item 6: the steps of `secret-key rotate` up to the kill point, then an open."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    db = await SqlDatabase.open(url, secret_key=None)  # creates store.db.key
    await sql_credential_stores(db).apps.save_app(AppConfig(app_id="cli_k", app_secret="s3"))
    await db.aclose()
    key_file = key_file_for(tmp_path / "store.db")
    pending = pending_key_file_for(tmp_path / "store.db")
    old, new = read_key_file(key_file), generate_key()
    assert old is not None
    write_key_file(pending, new)  # rotate: the new key on disk first
    await rotate_secret_key(url, old, new)  # rotate: commit ... and killed before the rename
    reopened = await SqlDatabase.open(url, secret_key=None)
    try:
        app = await sql_credential_stores(reopened).apps.get_app("cli_k")
        assert app is not None and app.app_secret == "s3"
        assert read_key_file(key_file) == new
    finally:
        await reopened.aclose()
    # the pending file now repeats the key file: the next open removes it
    again = await SqlDatabase.open(url, secret_key=None)
    await again.aclose()
    assert not pending.exists()


async def test_stale_pending_key_is_removed_and_a_fresh_one_kept(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    db = await SqlDatabase.open(url, secret_key=None)
    await db.aclose()
    pending = pending_key_file_for(tmp_path / "store.db")
    write_key_file(pending, generate_key())  # a rotation that failed before its commit
    fresh = await SqlDatabase.open(url, secret_key=None)
    await fresh.aclose()
    assert pending.exists()  # it may belong to a rotation still running
    old = time.time() - STALE_PENDING_AGE - 60
    os.utime(pending, (old, old))
    later = await SqlDatabase.open(url, secret_key=None)
    await later.aclose()
    assert not pending.exists()
    with pytest.raises(ConfigError):  # a wrong key is still an error
        await SqlDatabase.open(url, secret_key=generate_key())


async def test_rotate_again_after_an_interrupted_rotation_keeps_the_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 6, from the CLI: the next `secret-key rotate` first settles the pending key
    (before, it read the old key file and overwrote the only copy of the live key)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    db = await SqlDatabase.open(url, secret_key=None)
    await sql_credential_stores(db).apps.save_app(AppConfig(app_id="cli_k", app_secret="s3"))
    await db.aclose()
    key_file = key_file_for(tmp_path / "store.db")
    old, interrupted, final = read_key_file(key_file), generate_key(), generate_key()
    assert old is not None
    write_key_file(pending_key_file_for(tmp_path / "store.db"), interrupted)
    await rotate_secret_key(url, old, interrupted)  # killed here, before the rename
    parser = argparse.ArgumentParser(prog="lark-service")
    cli_db.add_parsers(parser.add_subparsers(required=True))
    monkeypatch.setenv("LARK_SERVICE_DATABASE_URL", url)
    monkeypatch.delenv("LARK_SERVICE_SECRET_KEY", raising=False)
    monkeypatch.setenv("LARK_SERVICE_NEW_SECRET_KEY", final)
    args = parser.parse_args(["secret-key", "rotate"])
    assert await args.func(args) == 0
    assert "re-encrypted" in capsys.readouterr().out
    assert read_key_file(key_file) == final
    reopened = await SqlDatabase.open(url, secret_key=None)
    try:
        app = await sql_credential_stores(reopened).apps.get_app("cli_k")
        assert app is not None and app.app_secret == "s3"
    finally:
        await reopened.aclose()
