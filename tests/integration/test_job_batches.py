"""`GroupCommitJobStore` on SQLite and PostgreSQL: concurrent saves share transactions, each
save returns once committed, the last save of a job wins, a failed batch fails its saves only."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from lark_service.adapters.postgres.job_batches import MAX_BATCH, GroupCommitJobStore
from lark_service.domain.errors import StoreError
from lark_service.domain.jobs import JobRecord, JobStatus
from tests.integration.conftest import SqlStores

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def record(n: int, status: JobStatus = "sent", **changes: Any) -> JobRecord:
    fields: dict[str, Any] = {
        "job_id": f"job-{n}",
        "app_id": "cli_a",
        "status": status,
        "attempts": 1,
        "message_id": f"om_{n}" if status == "sent" else None,
        "updated_at": 1000.0 + n,
        **changes,
    }
    return JobRecord(**fields)


@contextmanager
def counting_commits() -> Iterator[list[int]]:
    """Counts the transactions committed meanwhile (SQLAlchemy's commit event, every engine)."""
    commits = [0]

    def on_commit(_conn: object) -> None:
        commits[0] += 1

    event.listen(Engine, "commit", on_commit)
    try:
        yield commits
    finally:
        event.remove(Engine, "commit", on_commit)


async def test_concurrent_saves_are_committed_together_and_all_readable(store: SqlStores) -> None:
    jobs = GroupCommitJobStore(store.db)
    saves = [record(n) for n in range(300)]
    with counting_commits() as commits:
        await asyncio.gather(*(jobs.save_job(r) for r in saves))
    assert 1 <= commits[0] <= 300 // MAX_BATCH + 2  # not one transaction per save
    for r in (saves[0], saves[150], saves[-1]):
        assert await jobs.get_job(r.job_id) == r
    assert len(await jobs.list_jobs(status="sent", limit=1000)) == 300


async def test_the_last_save_of_a_job_wins_within_and_across_batches(store: SqlStores) -> None:
    jobs = GroupCommitJobStore(store.db)
    queued, failed, sent = record(1, "queued"), record(1, "queued", attempts=2), record(1)
    await asyncio.gather(jobs.save_job(queued), jobs.save_job(failed), jobs.save_job(sent))
    assert await jobs.get_job("job-1") == sent
    await jobs.save_job(record(1, "dead", attempts=5))
    found = await jobs.get_job("job-1")
    assert found is not None and (found.status, found.attempts) == ("dead", 5)


async def test_a_failed_batch_fails_its_saves_and_the_store_goes_on(store: SqlStores) -> None:
    jobs = GroupCommitJobStore(store.db)
    bad = record(2, app_id=None)  # app_id is NOT NULL
    results = await asyncio.gather(
        jobs.save_job(record(1)), jobs.save_job(bad), return_exceptions=True
    )
    assert all(isinstance(r, StoreError) for r in results)  # one transaction: neither saved
    assert await jobs.get_job("job-1") is None
    await jobs.save_job(record(3))
    assert await jobs.get_job("job-3") == record(3)
