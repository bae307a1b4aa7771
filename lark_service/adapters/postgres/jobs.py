"""`SqlJobStore`: send-job records in ``{prefix}jobs`` (PostgreSQL or SQLite)."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import RowMapping, and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from lark_service.adapters.postgres.database import SqlDatabase
from lark_service.domain.jobs import JobRecord, JobStatus
from lark_service.domain.ports.send_queue import JobStore

__all__ = ["SqlJobStore"]


class SqlJobStore(JobStore):
    """Each job's latest status; saving a record replaces the previous one, replacing it
    (`replace_job`) only if it is still the one expected."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._t = db.tables

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    async def save_job(self, record: JobRecord) -> None:
        await self._db.write("saving a job", self._db.upsert(self._t.jobs, job_row(record)))

    async def replace_job(self, record: JobRecord, *, expected: JobRecord | None) -> bool:
        t = self._t.jobs
        row = job_row(record)
        if expected is None:
            insert = self._db.insert(t, row)
            stmt: Executable = insert.on_conflict_do_nothing(index_elements=["job_id"])
        else:
            # one statement: the row is compared and written under the same row lock
            # (PostgreSQL re-checks the condition on a row updated meanwhile)
            same = [t.c[k].is_not_distinct_from(v) for k, v in job_row(expected).items()]
            stmt = update(t).where(and_(t.c.job_id == record.job_id, *same)).values(row)

        async def fn(conn: AsyncConnection) -> bool:
            return (await conn.execute(stmt)).rowcount == 1

        # not idempotent: a commit retried after it happened finds its own record, not expected
        return await self._db.run("replacing a job", fn, idempotent=False)

    async def get_job(self, job_id: str) -> JobRecord | None:
        t = self._t.jobs
        rows = await self._db.rows("reading a job", select(t).where(t.c.job_id == job_id))
        return _record(rows[0]) if rows else None

    async def list_jobs(
        self, *, status: JobStatus | None = None, limit: int = 100
    ) -> list[JobRecord]:
        t = self._t.jobs
        stmt = select(t).order_by(t.c.updated_at.desc(), t.c.job_id).limit(limit)
        if status is not None:
            stmt = stmt.where(t.c.status == status)
        return [_record(r) for r in await self._db.rows("listing jobs", stmt)]

    async def prune_jobs(self, before: float) -> int:
        t = self._t.jobs
        return await self._db.write("pruning jobs", delete(t).where(t.c.updated_at < before))


def _record(r: RowMapping) -> JobRecord:
    return JobRecord(
        job_id=r["job_id"],
        app_id=r["app_id"],
        status=r["status"],
        attempts=r["attempts"],
        message_id=r["message_id"],
        error_code=r["error_code"],
        error_msg=r["error_msg"],
        log_id=r["log_id"],
        updated_at=r["updated_at"],
    )


def job_row(record: JobRecord) -> dict[str, Any]:
    """The row of ``record``: the table's columns are the record's fields."""
    return msgspec.structs.asdict(record)
