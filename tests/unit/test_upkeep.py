"""The upkeep jobs, called directly on in-memory stores and the fake; the lease guard."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from lark_service.adapters.memory import InMemoryMetrics
from lark_service.adapters.memory.jobs import InMemoryJobStore
from lark_service.adapters.memory.leases import InMemoryLeaseStore
from lark_service.adapters.memory.store import InMemoryProcessedEventStore
from lark_service.application import CredentialPool
from lark_service.domain.errors import ConfigError
from lark_service.domain.jobs import JobRecord
from lark_service.entrypoints.http.wiring import open_services
from lark_service.entrypoints.settings import Settings, load_settings
from lark_service.entrypoints.upkeep import (
    UpkeepIntervals,
    UpkeepJob,
    UpkeepRunner,
    prune_jobs,
    refresh_tenant_tokens,
    upkeep_intervals,
    upkeep_jobs,
)
from lark_service.testing import fake_pool
from lark_service.testing.fake_lark import FakeLark
from lark_service.testing.fake_lark.auth import TENANT_INTERNAL
from lark_service.testing.virtual_time import loop_clock
from tests.conftest import FAST_RETRY, loop_limiter, make_apps
from tests.unit.test_pool import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture(name="clocked_pool")
async def clocked_pool_fixture(fake: FakeLark) -> AsyncIterator[CredentialPool]:
    """A pool on the fake's clock, so advancing the fake ages the cached tokens."""
    async with fake_pool(
        fake,
        apps=make_apps(fake, 2),
        default_app_id="cli_app0",
        clock=FakeClock(fake),
        metrics=InMemoryMetrics(),
        retry=FAST_RETRY,
        limiter=loop_limiter(),
    ) as pool:
        yield pool


def tenant_fetches(fake: FakeLark, app_id: str) -> int:
    return sum(
        1 for r in fake.requests if r.path == TENANT_INTERNAL and r.json()["app_id"] == app_id
    )


async def test_tokens_close_to_expiry_are_refreshed_for_idle_apps(
    clocked_pool: CredentialPool, fake: FakeLark
) -> None:
    pool = clocked_pool
    first = await pool.tenant_access_token("cli_app0")
    await pool.tenant_access_token("cli_app1")
    assert await refresh_tenant_tokens(pool) == 0  # both fresh: nothing to do
    assert tenant_fetches(fake, "cli_app0") == 1

    fake.advance(7200 - 200)  # inside the pool's refresh_ahead (300 s)
    assert await refresh_tenant_tokens(pool) == 2
    await asyncio.sleep(1)  # the background refreshes finish
    assert tenant_fetches(fake, "cli_app0") == 2
    assert tenant_fetches(fake, "cli_app1") == 2
    assert await pool.tenant_access_token("cli_app0") != first


async def test_token_refresh_skips_disabled_apps_and_fetches_missing_ones(
    clocked_pool: CredentialPool, fake: FakeLark
) -> None:
    pool = clocked_pool
    off = pool.apps.get("cli_app1")
    pool.apps.register(msgspec.structs.replace(off, enabled=False))
    assert await refresh_tenant_tokens(pool) == 1  # cli_app0 had none yet
    assert tenant_fetches(fake, "cli_app0") == 1
    assert tenant_fetches(fake, "cli_app1") == 0


async def test_token_refresh_failure_of_one_app_does_not_stop_the_others(
    clocked_pool: CredentialPool, fake: FakeLark, caplog: pytest.LogCaptureFixture
) -> None:
    pool = clocked_pool
    pool.apps.register(
        msgspec.structs.replace(pool.resolve("cli_app0"), app_id="cli_bad", app_secret="nope")
    )
    touched = await refresh_tenant_tokens(pool)
    assert touched == 2  # cli_app0 and cli_app1; the bad app is logged and skipped
    assert tenant_fetches(fake, "cli_app1") == 1
    assert "refreshing the tenant token of cli_bad failed" in caplog.text


async def test_prune_jobs_deletes_old_records_only(pool: CredentialPool) -> None:
    jobs = InMemoryJobStore()
    async with open_services(pool, jobs=jobs) as services:
        now = pool.clock.now()
        await jobs.save_job(
            JobRecord(job_id="old", app_id="a", status="sent", updated_at=now - 100)
        )
        await jobs.save_job(JobRecord(job_id="new", app_id="a", status="sent", updated_at=now))
        assert await prune_jobs(services, pool.clock, keep_for=50) == 1
        assert await jobs.get_job("old") is None
        assert await jobs.get_job("new") is not None


async def test_the_jobs_prune_dedup_entries_and_sessions(pool: CredentialPool) -> None:
    processed = InMemoryProcessedEventStore()
    async with open_services(pool, processed_events=processed) as services:
        now = pool.clock.now()
        await processed.remember_event("cli_app0:old", expires_at=now - 1)
        await processed.remember_event("cli_app0:new", expires_at=now + 3600)
        jobs = {j.name: j for j in upkeep_jobs(services, clock=pool.clock)}
        assert set(jobs) == {"tokens", "events", "jobs", "grants", "sessions"}
        assert await jobs["events"].run() == 1
        assert not await processed.remember_event("cli_app0:new", expires_at=now + 3600)
        assert await processed.remember_event("cli_app0:old", expires_at=now + 3600)
        assert await jobs["sessions"].run() == 0  # no grant sessions yet
        assert await jobs["grants"].run() == 0  # no expiring grants


def test_intervals_are_checked() -> None:
    with pytest.raises(ConfigError, match="tokens"):
        UpkeepIntervals(tokens=0)
    with pytest.raises(ConfigError, match="keep_jobs_for"):
        UpkeepIntervals(keep_jobs_for=-1)


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        return 1


async def test_one_replica_runs_a_job_per_period() -> None:
    leases = InMemoryLeaseStore(loop_clock())
    counter = Counter()
    job = UpkeepJob("count", 10.0, counter)
    a, b = UpkeepRunner(leases, holder="a"), UpkeepRunner(leases, holder="b")
    assert await a.run(job) == 1
    assert await b.run(job) is None  # a holds the lease for this period
    assert await a.run(job) == 1  # a renews it
    assert counter.calls == 2
    await a.release([job])
    assert await b.run(job) == 1  # released: b takes over at once
    assert counter.calls == 3


async def test_a_failing_or_overrunning_job_is_logged_and_returns_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    leases = InMemoryLeaseStore(loop_clock())

    async def boom() -> int:
        raise RuntimeError("broken")

    async def slow() -> int:
        await asyncio.sleep(60)
        return 1

    runner = UpkeepRunner(leases, holder="a")
    assert await runner.run(UpkeepJob("boom", 5.0, boom)) is None
    assert await runner.run(UpkeepJob("slow", 5.0, slow)) is None
    assert "upkeep job boom failed" in caplog.text
    assert "upkeep job slow did not finish" in caplog.text
    counter = Counter()
    assert await runner.run(UpkeepJob("next", 5.0, counter)) == 1  # the runner carries on


def test_the_settings_give_the_periods_and_retentions() -> None:
    assert upkeep_intervals(Settings()) == UpkeepIntervals()  # the same defaults
    s = load_settings(
        {
            "LARK_SERVICE_UPKEEP_TOKEN_REFRESH_INTERVAL": "1.5",
            "LARK_SERVICE_UPKEEP_GRANT_CHECK_INTERVAL": "2",
            "LARK_SERVICE_UPKEEP_SESSION_PRUNE_INTERVAL": "3",
            "LARK_SERVICE_UPKEEP_EVENT_PRUNE_INTERVAL": "4",
            "LARK_SERVICE_UPKEEP_JOB_PRUNE_INTERVAL": "5",
            "LARK_SERVICE_GRANT_SESSION_RETENTION": "60",
            "LARK_SERVICE_JOB_RETENTION": "120",
        }
    )
    assert upkeep_intervals(s) == UpkeepIntervals(
        tokens=1.5, grants=2, sessions=3, events=4, jobs=5, keep_sessions_for=60, keep_jobs_for=120
    )


async def test_the_jobs_run_on_the_settings_periods(pool: CredentialPool) -> None:
    s = Settings(upkeep_token_refresh_interval=7, job_retention=30, upkeep_job_prune_interval=9)
    async with open_services(pool) as services:
        jobs = {
            j.name: j
            for j in upkeep_jobs(services, clock=pool.clock, intervals=upkeep_intervals(s))
        }
    assert (jobs["tokens"].period, jobs["jobs"].period, jobs["events"].period) == (7, 9, 600)
    assert jobs["tokens"].lease_ttl == 7 * 1.5


@pytest.mark.parametrize(
    "variable",
    [
        "LARK_SERVICE_UPKEEP_TOKEN_REFRESH_INTERVAL",
        "LARK_SERVICE_UPKEEP_GRANT_CHECK_INTERVAL",
        "LARK_SERVICE_UPKEEP_SESSION_PRUNE_INTERVAL",
        "LARK_SERVICE_UPKEEP_EVENT_PRUNE_INTERVAL",
        "LARK_SERVICE_UPKEEP_JOB_PRUNE_INTERVAL",
        "LARK_SERVICE_GRANT_SESSION_RETENTION",
        "LARK_SERVICE_JOB_RETENTION",
    ],
)
@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_period_that_is_not_positive_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings({variable: value})


def test_upkeep_can_be_turned_off_per_replica() -> None:
    assert Settings().upkeep_enabled is True
    assert load_settings({"LARK_SERVICE_UPKEEP_ENABLED": "false"}).upkeep_enabled is False
    with pytest.raises(ConfigError, match="LARK_SERVICE_UPKEEP_ENABLED"):
        load_settings({"LARK_SERVICE_UPKEEP_ENABLED": "sometimes"})


async def test_each_finished_run_is_counted_on_its_lease_across_holders() -> None:
    leases = InMemoryLeaseStore(loop_clock())
    counter = Counter()
    job = UpkeepJob("count", 10.0, counter)
    a, b = UpkeepRunner(leases, holder="a"), UpkeepRunner(leases, holder="b")
    assert await leases.lease_runs("upkeep:count") is None  # never taken
    await a.run(job)
    await b.run(job)  # skipped: not counted
    await a.run(job)
    found = await leases.lease_runs("upkeep:count")
    assert found is not None and (found.runs, found.holder) == (2, "a")
    assert found.last_run_at is not None
    await a.release([job])
    await asyncio.sleep(1)
    await b.run(job)  # b takes over; the count goes on
    found = await leases.lease_runs("upkeep:count")
    assert found is not None and (found.runs, found.holder) == (3, "b")
    assert counter.calls == 3

    async def boom() -> int:
        raise RuntimeError("broken")

    await b.run(UpkeepJob("count", 10.0, boom))  # a failed run is not counted
    found = await leases.lease_runs("upkeep:count")
    assert found is not None and found.runs == 3


async def test_a_run_is_counted_only_by_the_lease_holder() -> None:
    leases = InMemoryLeaseStore(loop_clock())
    assert await leases.acquire_lease("duty", "a", ttl=5) is True
    assert await leases.record_run("duty", "b") is False
    assert await leases.record_run("duty", "a") is True
    found = await leases.lease_runs("duty")
    assert found is not None and found.runs == 1


async def test_drain_waits_for_runs_in_progress_up_to_its_deadline() -> None:
    leases = InMemoryLeaseStore(loop_clock())
    runner = UpkeepRunner(leases, holder="a")

    async def slow() -> int:
        await asyncio.sleep(2)
        return 1

    async def stuck() -> int:
        await asyncio.sleep(3600)
        return 1

    loop = asyncio.get_running_loop()
    finishing = asyncio.create_task(runner.run(UpkeepJob("slow", 10.0, slow)))
    hanging = asyncio.create_task(runner.run(UpkeepJob("stuck", 7200.0, stuck)))
    await asyncio.sleep(0)
    started = loop.time()
    await runner.drain(within=5)
    assert loop.time() - started == pytest.approx(5, abs=0.01)  # waited for slow, not stuck
    assert finishing.done() and finishing.result() == 1
    found = await leases.lease_runs("upkeep:slow")
    assert found is not None and found.runs == 1  # a drained run is counted
    assert not hanging.done()
    hanging.cancel()
    await runner.drain(within=5)  # nothing left in progress: returns at once
    assert loop.time() - started == pytest.approx(5, abs=0.01)
