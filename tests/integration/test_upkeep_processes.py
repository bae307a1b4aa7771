"""Scheduled upkeep across real ``lark-service serve`` processes.

Two replicas share one scratch PostgreSQL and one fake Lark (over a socket, in a thread),
with every upkeep period at 1 s. The fake issues tenant tokens that live 10 s: below the
pool's 30-s floor, so no cached or stored token is ever reused and every run of the token
job fetches exactly one token per app at the fake. Each job must run once per period across
the two processes (not twice), the count kept on the job's lease row must equal what the fake
saw, and when the holder is SIGKILLed the other replica takes the jobs over within the lease
time (1.5 periods) and one more period.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from lark_service.adapters.postgres import SqlDatabase, generate_key, upgrade_async
from lark_service.adapters.postgres.leases import SqlLeaseStore
from lark_service.domain.ports.leases import LeaseRuns
from lark_service.testing.fake_lark import FakeLark, FakeRequest, HandlerResult, serve_in_thread
from lark_service.testing.fake_lark.auth import TENANT_INTERNAL
from tests.e2e.support import LarkServiceProcess
from tests.integration.conftest import PG_ADMIN_URL, _connect_admin
from tests.integration.test_cli_service import free_port, wait_healthy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERIOD = 1.0
# APScheduler adds up to 10% of the period as jitter, so consecutive runs are 1.0-1.1 s apart
MAX_GAP = PERIOD * 1.1
LEASE_TTL = PERIOD * 1.5
TOKEN_LIFETIME = 10  # seconds: under the pool's min_remaining (30 s)
APPS = ("cli_upkeep0", "cli_upkeep1")
JOBS = ("tokens", "events", "jobs", "grants", "sessions")
WAIT = 60.0  # the deadline of every wait below


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def short_lived_tokens(fake: FakeLark) -> None:
    """The fake's tenant-token endpoint, answering with a ``TOKEN_LIFETIME`` expiry."""
    issue, _ = fake.router.match("POST", TENANT_INTERNAL)
    assert issue is not None

    async def short(req: FakeRequest) -> HandlerResult:
        result = await issue(req)
        assert isinstance(result, tuple)
        status, body = result
        return status, {**body, "expire": TOKEN_LIFETIME} if body.get("code") == 0 else body

    fake.add_route("POST", TENANT_INTERNAL, short)


@pytest.fixture
def fake_url() -> Iterator[tuple[FakeLark, str]]:
    fake = FakeLark(realtime=True)
    for app_id in APPS:
        fake.add_app(app_id, f"secret-{app_id}")
    short_lived_tokens(fake)
    with serve_in_thread(fake) as running:
        yield fake, running.base_url


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    admin = await _connect_admin()
    name = f"lark_upkeep_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_async(url)
        yield url
    finally:
        await admin.terminate(name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.engine.dispose()


@dataclass(frozen=True)
class Snapshot:
    """The store's run counts and the fake's token requests at one instant (database time)."""

    at: float
    runs: dict[str, LeaseRuns]
    fetched: dict[str, int]

    def count(self, job: str) -> int:
        found = self.runs.get(job)
        return 0 if found is None else found.runs

    def holder_pid(self, job: str) -> int | None:
        found = self.runs.get(job)
        if found is None or found.holder is None:
            return None
        return int(found.holder.split(":")[-2])  # host:pid:random (default_holder)


class Observer:
    """Reads the lease rows the two replicas write, next to the fake's counters."""

    def __init__(self, db: SqlDatabase, fake: FakeLark) -> None:
        self.db = db
        self.leases = SqlLeaseStore(db)
        self.fake = fake

    async def db_now(self) -> float:
        async def fn(conn: AsyncConnection) -> float:
            found = await conn.execute(text("SELECT extract(epoch FROM clock_timestamp())"))
            return float(found.scalar_one())

        return await self.db.run("reading the clock", fn)

    async def read(self) -> Snapshot:
        runs = {}
        for job in JOBS:
            found = await self.leases.lease_runs(f"upkeep:{job}")
            if found is not None:
                runs[job] = found
        fetched = {app_id: self.fake.token_requests(app_id) for app_id in APPS}
        return Snapshot(await self.db_now(), runs, fetched)

    async def lease_row(self, job: str) -> tuple[object, ...] | None:
        """holder, runs, last_run_at and expires_at of the job's lease, as stored."""
        t = self.db.tables.leases
        stmt = select(t.c.holder, t.c.runs, t.c.last_run_at, t.c.expires_at).where(
            t.c.name == f"upkeep:{job}"
        )
        rows = await self.db.rows("reading a lease", stmt)
        return tuple(rows[0].values()) if rows else None

    async def settled(self, *, fresh: float | None = None) -> Snapshot:
        """A snapshot with no run of the token job in flight, so every fetch at the fake so
        far belongs to a counted run. A run renews the lease (``expires_at`` = its start +
        the lease time) before it fetches and counts itself (``last_run_at``) after: none
        is in flight when the last renewal is not after the last count, and none started
        while the fake was read when the row is unchanged after. ``fresh``: also wait until
        the last run ended at most that many seconds ago (the next is a period away)."""
        async with asyncio.timeout(WAIT):
            while True:
                first = await self.lease_row("tokens")
                if first is not None and first[2] is not None:
                    _, runs, last_run_at, expires_at = first
                    assert isinstance(last_run_at, float) and isinstance(expires_at, float)
                    idle = expires_at - LEASE_TTL <= last_run_at + 0.01
                    recent = fresh is None or await self.db_now() - last_run_at <= fresh
                    if idle and recent:
                        snap = await self.read()
                        if await self.lease_row("tokens") == first:
                            assert snap.count("tokens") == runs
                            return snap
                await asyncio.sleep(0.02)


def serve_env(database_url: str, key: str, base_url: str, data_dir: Path) -> dict[str, str]:
    env = {
        "LARK_SERVICE_DATABASE_URL": database_url,
        "LARK_SERVICE_SECRET_KEY": key,
        "LARK_SERVICE_BASE_URL": base_url,
        "LARK_SERVICE_DATA_DIR": str(data_dir),
        "LARK_SERVICE_LOG_LEVEL": "WARNING",
        "LARK_SERVICE_METRICS_ENABLED": "false",
        # nothing inherited from the environment running the tests
        "LARK_SERVICE_AMQP_URL": "",
        "LARK_SERVICE_RATE_LIMIT_URL": "",
        "LARK_SERVICE_APPS_FILE": "",
        "LARK_SERVICE_CONFIG": "",
        "LARK_SERVICE_UPKEEP_ENABLED": "true",
    }
    for name in ("TOKEN_REFRESH", "GRANT_CHECK", "SESSION_PRUNE", "EVENT_PRUNE", "JOB_PRUNE"):
        env[f"LARK_SERVICE_UPKEEP_{name}_INTERVAL"] = str(PERIOD)
    for i, app_id in enumerate(APPS):
        env[f"LARK_APPS__UPKEEP{i}__APP_ID"] = app_id
        env[f"LARK_APPS__UPKEEP{i}__APP_SECRET"] = f"secret-{app_id}"
    return env


def within(runs: int, seconds: float) -> bool:
    """``runs`` is one run per period over ``seconds`` (give or take the one at each edge)."""
    return math.floor(seconds / MAX_GAP) - 1 <= runs <= math.ceil(seconds / PERIOD) + 1


@pytest.mark.anyio
async def test_two_serve_processes_run_each_job_once_per_period_and_take_over_after_a_kill(
    pg_url: str, fake_url: tuple[FakeLark, str], tmp_path: Path
) -> None:
    fake, base_url = fake_url
    env = serve_env(pg_url, generate_key(), base_url, tmp_path / "data")
    ports = [free_port(), free_port()]
    replicas = [
        LarkServiceProcess(["serve", "--port", str(p)], env, tmp_path / f"serve{i}.log")
        for i, p in enumerate(ports)
    ]
    db = await SqlDatabase.open(pg_url, secret_key=env["LARK_SERVICE_SECRET_KEY"])
    watch = Observer(db, fake)
    try:
        for port, replica in zip(ports, replicas, strict=True):
            await asyncio.to_thread(wait_healthy, f"http://127.0.0.1:{port}", replica)
        await watch.settled()  # the token job has run at least once
        by_pid = {r.proc.pid: r for r in replicas}

        # -- both replicas up: one of them runs each job, once per period ----------------------
        start = await watch.settled()
        await asyncio.sleep(6 * PERIOD)
        both = await watch.settled(fresh=0.4)  # then the kill below comes between two runs
        elapsed = both.at - start.at
        ran = {job: both.count(job) - start.count(job) for job in JOBS}
        fetched = {a: both.fetched[a] - start.fetched[a] for a in APPS}
        print(f"\nboth up for {elapsed:.2f} s: runs per job {ran}, token fetches {fetched}")
        assert set(both.runs) == set(JOBS), both.runs
        for job in JOBS:
            assert within(ran[job], elapsed), (job, ran[job], elapsed)
        # every fetch at the fake is one counted run of the token job, per app, since start
        assert both.fetched == {a: both.count("tokens") for a in APPS}, both
        assert fetched == {a: ran["tokens"] for a in APPS}
        holder = both.holder_pid("tokens")
        assert holder in by_pid, both.runs["tokens"]

        # -- SIGKILL the token job's holder: the other replica takes the jobs over ---------------
        killed = by_pid.pop(holder)
        survivor = next(iter(by_pid))
        killed.kill()
        killed_at = await watch.db_now()
        row = await watch.lease_row("tokens")
        assert row is not None and row[1] == both.count("tokens"), (row, both)
        assert isinstance(row[3], float) and isinstance(row[2], float)
        assert row[3] - LEASE_TTL <= row[2] + 0.01, "killed in the middle of a run"
        async with asyncio.timeout(WAIT):
            while True:
                now = await watch.read()
                if now.holder_pid("tokens") == survivor and now.count("tokens") > both.count(
                    "tokens"
                ):
                    break
                await asyncio.sleep(0.02)
        took_over = now.runs["tokens"].last_run_at
        assert took_over is not None
        gap = took_over - killed_at
        print(f"holder {holder} killed; {survivor} ran the token job {gap:.2f} s later")
        # the lease expires at most LEASE_TTL after the holder's last renewal, and the
        # survivor's next tick follows within one period (plus scheduling slack)
        assert gap <= LEASE_TTL + MAX_GAP + 1.0, gap

        await asyncio.sleep(4 * PERIOD)
        after = await watch.settled()
        elapsed = after.at - both.at
        ran = {job: after.count(job) - both.count(job) for job in JOBS}
        fetched = {a: after.fetched[a] - both.fetched[a] for a in APPS}
        print(f"after the kill, {elapsed:.2f} s: runs per job {ran}, token fetches {fetched}")
        assert {job: after.holder_pid(job) for job in JOBS} == dict.fromkeys(JOBS, survivor)
        assert fetched == {a: ran["tokens"] for a in APPS}
        assert after.fetched == {a: after.count("tokens") for a in APPS}
        # the kill costs at most the lease time and a period; never a double run
        for job in JOBS:
            assert ran[job] <= math.ceil(elapsed / PERIOD) + 1, (job, ran[job])
            assert ran[job] >= math.floor((elapsed - LEASE_TTL - MAX_GAP) / MAX_GAP) - 1

        # -- SIGTERM: the survivor releases its leases; the counts stay --------------------------
        assert by_pid[survivor].terminate() == 0
        final = await watch.read()
        print(f"stopped: {[(j, r.runs, r.holder) for j, r in final.runs.items()]}")
        assert all(r.holder is None for r in final.runs.values())
        assert all(final.count(job) >= after.count(job) for job in JOBS)
        # a run in progress at the SIGTERM finished and was counted before the release
        assert final.fetched == {a: final.count("tokens") for a in APPS}
        assert "Traceback" not in by_pid[survivor].output()
    finally:
        for replica in replicas:
            if replica.proc.poll() is None:
                replica.kill()
        await db.aclose()


def test_serve_demo_runs_the_upkeep_too(tmp_path: Path) -> None:
    """``serve --demo`` refreshes its demo apps' tokens with no traffic, as production does."""
    port = free_port()
    env = {
        "LARK_SERVICE_DATA_DIR": str(tmp_path / "data"),
        "LARK_SERVICE_UPKEEP_TOKEN_REFRESH_INTERVAL": "0.5",
        "LARK_SERVICE_CONFIG": "",
    }
    server = LarkServiceProcess(["serve", "--demo", "--port", str(port)], env, tmp_path / "d.log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        found = re.search(r"fake Lark server: (\S+)", server.output())
        assert found is not None, server.output()
        deadline = time.monotonic() + 20
        while True:
            stats = httpx.get(f"{found[1]}/_fake/stats", timeout=5).json()["data"]
            if set(stats["token_requests"]) == {"cli_demo_alerts", "cli_demo_hr"}:
                break  # both apps have a token, and nobody called the API
            assert time.monotonic() < deadline, stats
            time.sleep(0.1)
        assert server.terminate() == 0
    finally:
        if server.proc.poll() is None:
            server.kill()
