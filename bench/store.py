"""Cold start of the SQL credential store with 1,000 apps, on SQLite and PostgreSQL.

    python bench/store.py [--apps N]

"Cold start" is a new store object (engine, migration check, key canary) followed by the
first ``list_apps`` (which decrypts every app secret). Time is measured without tracing;
memory in a second cold start under ``tracemalloc``. PostgreSQL runs in a temporary
database created through ``LARK_SERVICE_BENCH_PG_ADMIN_URL`` (default: local ``postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from lark_service.adapters.postgres import (
    SqlDatabase,
    generate_key,
    sql_credential_stores,
    upgrade_async,
)
from lark_service.domain.apps import AppConfig

PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def seed_apps(url: str, secret_key: str, apps: int) -> None:
    """Migrate ``url`` and make sure it holds ``apps`` apps."""
    await upgrade_async(url)
    store = await SqlDatabase.open(url, secret_key=secret_key)
    try:
        app_store = sql_credential_stores(store).apps
        for i in range(len(await app_store.list_apps()), apps):
            await app_store.save_app(
                AppConfig(app_id=f"cli_{i:05d}", app_secret=f"secret-{i}", encrypt_key=f"ek-{i}")
            )
    finally:
        await store.aclose()


async def _cold_start(url: str, secret_key: str) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    store = await SqlDatabase.open(url, secret_key=secret_key)
    t1 = time.perf_counter()
    listed = await sql_credential_stores(store).apps.list_apps()
    t2 = time.perf_counter()
    await store.aclose()
    return t1 - t0, t2 - t1, len(listed)


async def bench_cold_start(
    url: str, *, secret_key: str | None = None, apps: int = 1000
) -> dict[str, Any]:
    """Seed ``apps`` apps into ``url`` (if needed), then time and trace a cold start."""
    key = secret_key or generate_key()
    await seed_apps(url, key, apps)
    gc.collect()
    open_s, list_s, count = await _cold_start(url, key)
    rss_before = _rss_mib()
    tracemalloc.start()
    await _cold_start(url, key)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "dialect": make_url(url).get_backend_name(),
        "apps": count,
        "open_ms": open_s * 1000,
        "list_apps_ms": list_s * 1000,
        "total_ms": (open_s + list_s) * 1000,
        "tracemalloc_peak_kib": peak / 1024,
        "rss_mib": max(rss_before, _rss_mib()),
    }


async def _postgres(apps: int, admin_url: str) -> dict[str, Any] | None:
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"lark_bench_{uuid.uuid4().hex[:10]}"
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        print(f"postgresql skipped: {type(exc).__name__}", file=sys.stderr)
        await admin.dispose()
        return None
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        return await bench_cold_start(url, apps=apps)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


def _print_table(rows: list[dict[str, Any]]) -> None:
    cols = ["dialect", "apps", "open_ms", "list_apps_ms", "total_ms"]
    cols += ["tracemalloc_peak_kib", "rss_mib"]
    print(" | ".join(f"{c:>20}" for c in cols))
    print("-+-".join("-" * 20 for _ in cols))
    for row in rows:
        cells = [f"{row[c]:>20.1f}" if isinstance(row[c], float) else f"{row[c]:>20}" for c in cols]
        print(" | ".join(cells))


async def token_reads_per_second(store: Any, base_url: str, reads: int = 200_000) -> float:
    """Token reads per second through the pool (resolve + get_token) with ``store`` behind."""
    from lark_service.application import MessagingClient
    from lark_service.entrypoints.embed import open_pool

    app = AppConfig(app_id="cli_bench_reads", app_secret="s", domain=base_url)
    async with open_pool(apps=[app], stores=store) as pool:
        await MessagingClient(pool).get_bot_info()
        started = time.perf_counter()
        for _ in range(reads):
            await pool.get_token(pool.resolve())
        return reads / (time.perf_counter() - started)


async def _token_reads(admin_url: str) -> list[list[str]]:
    from lark_service.adapters.memory import in_memory_stores
    from lark_service.testing.fake_lark import FakeLark, serve_in_thread

    fake = FakeLark()
    fake.add_app("cli_bench_reads", "s")
    rows = []
    with serve_in_thread(fake) as server:
        memory = await token_reads_per_second(in_memory_stores(), server.base_url)
        rows.append(["in-memory store", f"{memory:,.0f}", "1.00x"])
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/reads.db"
            await upgrade_async(url)
            store = await SqlDatabase.open(url, secret_key=generate_key())
            rate = await token_reads_per_second(sql_credential_stores(store), server.base_url)
            await store.aclose()
            rows.append(["SQLite store", f"{rate:,.0f}", f"{rate / memory:.2f}x"])
        admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        name = f"lark_bench_{uuid.uuid4().hex[:10]}"
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            await upgrade_async(url)
            store = await SqlDatabase.open(url, secret_key=generate_key())
            rate = await token_reads_per_second(sql_credential_stores(store), server.base_url)
            await store.aclose()
            rows.append(["PostgreSQL store", f"{rate:,.0f}", f"{rate / memory:.2f}x"])
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            await admin.dispose()
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(await bench_cold_start(f"sqlite+aiosqlite:///{tmp}/bench.db", apps=args.apps))
    if (pg := await _postgres(args.apps, args.pg_admin_url)) is not None:
        rows.append(pg)
    _print_table(rows)
    from bench._common import print_table

    print_table(
        "Token reads per second through the pool (target: SQL store >= 0.9x in-memory)",
        ["store behind the pool", "reads/s", "vs in-memory"],
        await _token_reads(args.pg_admin_url),
    )


if __name__ == "__main__":
    asyncio.run(main())
