"""Scheduled upkeep on APScheduler (wall-clock timers, so real sub-second waits) with the
SQL lease store shared by two replicas; job-record pruning in SQL."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from lark_service.adapters.postgres.job_batches import GroupCommitJobStore
from lark_service.adapters.postgres.jobs import SqlJobStore
from lark_service.adapters.postgres.leases import SqlLeaseStore
from lark_service.domain.jobs import JobRecord
from lark_service.entrypoints.upkeep import UpkeepJob, UpkeepRunner, open_upkeep

from .conftest import SqlStores

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

PERIOD = 0.25


class Stamps:
    """When a job ran, and in which replica."""

    def __init__(self) -> None:
        self.runs: list[tuple[float, str]] = []

    def job(self, replica: str) -> UpkeepJob:
        async def run() -> int:
            self.runs.append((time.monotonic(), replica))
            return 1

        return UpkeepJob("count", PERIOD, run)


class _Clock:
    def now(self) -> float:
        return time.time()


async def test_two_replicas_run_each_job_once_per_period(store: SqlStores) -> None:
    leases = SqlLeaseStore(store.db)
    stamps = Stamps()
    async with (
        open_upkeep(None, leases, clock=_Clock(), holder="a", jobs=[stamps.job("a")]),
        open_upkeep(None, leases, clock=_Clock(), holder="b", jobs=[stamps.job("b")]),
    ):
        await asyncio.sleep(PERIOD * 8.5)
    times = [t for t, _ in stamps.runs]
    # both replicas tick 8 times; one of them runs the job each period
    assert 6 <= len(times) <= 9, stamps.runs
    assert len({r for _, r in stamps.runs}) == 1  # the holder keeps its lease
    # never twice in one tick. Not "never closer than half a period": the schedule is fixed
    # rate, so a tick the busy loop ran late is followed by the next one on time (gaps of
    # 0.1 s were seen on a loaded CI machine), but a second run in the same tick would
    # come within its jitter (<= 0.025 s)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) > PERIOD * 0.15, gaps


async def test_the_other_replica_takes_over_when_the_holder_stops(store: SqlStores) -> None:
    leases = SqlLeaseStore(store.db)
    stamps = Stamps()
    a = open_upkeep(None, leases, clock=_Clock(), holder="a", jobs=[stamps.job("a")])
    await a.__aenter__()
    stopped = False
    try:
        await asyncio.sleep(PERIOD * 1.5)  # a runs alone once and holds the lease
        async with open_upkeep(None, leases, clock=_Clock(), holder="b", jobs=[stamps.job("b")]):
            await asyncio.sleep(PERIOD * 3)
            assert {r for _, r in stamps.runs} == {"a"}  # b's ticks find the lease held
            await a.__aexit__(None, None, None)  # a stops and releases its lease
            stopped = True
            handed_over = len(stamps.runs)
            await asyncio.sleep(PERIOD * 3)
    finally:
        if not stopped:
            await a.__aexit__(None, None, None)
    assert {r for _, r in stamps.runs[handed_over:]} == {"b"}
    assert len(stamps.runs) - handed_over >= 2


async def test_a_failing_job_does_not_stop_the_scheduler(store: SqlStores) -> None:
    leases = SqlLeaseStore(store.db)
    calls = 0

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first run fails")
        return 1

    async with open_upkeep(
        None, leases, clock=_Clock(), holder="a", jobs=[UpkeepJob("flaky", PERIOD, flaky)]
    ):
        await asyncio.sleep(PERIOD * 4.5)
    assert calls >= 3


async def test_prune_jobs_in_sql(store: SqlStores) -> None:
    for jobs in (SqlJobStore(store.db), GroupCommitJobStore(store.db)):
        await jobs.save_job(JobRecord(job_id="old", app_id="a", status="sent", updated_at=100.0))
        await jobs.save_job(JobRecord(job_id="new", app_id="a", status="sent", updated_at=300.0))
        assert await jobs.prune_jobs(200.0) == 1
        assert await jobs.get_job("old") is None
        assert await jobs.get_job("new") is not None
        await jobs.prune_jobs(1000.0)


async def test_runs_are_counted_on_the_lease_row_across_holders(store: SqlStores) -> None:
    leases = SqlLeaseStore(store.db)
    assert await leases.lease_runs("upkeep:count") is None
    stamps = Stamps()
    job_a, job_b = stamps.job("a"), stamps.job("b")
    a, b = UpkeepRunner(leases, holder="a"), UpkeepRunner(leases, holder="b")
    assert a.run_log is leases
    await a.run(job_a)
    await b.run(job_b)  # held by a: skipped and not counted
    await a.run(job_a)
    found = await leases.lease_runs("upkeep:count")
    assert found is not None and (found.runs, found.holder) == (2, "a")
    assert found.last_run_at is not None and abs(found.last_run_at - time.time()) < 60
    assert await leases.record_run("upkeep:count", "b") is False  # only the holder counts
    await a.release([job_a])
    released = await leases.lease_runs("upkeep:count")
    assert released is not None and (released.runs, released.holder) == (2, None)
    assert await leases.record_run("upkeep:count", "a") is False  # released: not a's any more
    await b.run(job_b)  # takes over; the count survives the release
    found = await leases.lease_runs("upkeep:count")
    assert found is not None and (found.runs, found.holder) == (3, "b")
    assert [r for _, r in stamps.runs] == ["a", "a", "b"]


async def test_a_run_in_progress_at_exit_finishes_and_is_counted(store: SqlStores) -> None:
    leases = SqlLeaseStore(store.db)
    began = asyncio.Event()
    ended: list[float] = []

    async def slow() -> int:
        began.set()
        await asyncio.sleep(PERIOD)
        ended.append(time.monotonic())
        return 1

    async with open_upkeep(
        None, leases, clock=_Clock(), holder="a", jobs=[UpkeepJob("slow", PERIOD * 2, slow)]
    ):
        async with asyncio.timeout(10):
            await began.wait()
    # the block ended mid-run: the scheduler stopped, the run finished, then the release
    assert len(ended) == 1
    found = await leases.lease_runs("upkeep:slow")
    assert found is not None and (found.runs, found.holder) == (1, None)
