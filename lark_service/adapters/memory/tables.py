"""`InMemoryWorkspaceTables`: a dict-backed `WorkspaceTablesPort` for embedders' unit tests.

It shares the fake Lark server's table engine (`lark_service.testing.workspace_sql`): the same
subset of
the PostgREST-like ``filter``/``select``/``order`` grammar and the same sqlite-backed
``execute_sql`` (parameters bound by `lark_service.application.sql_quote`), so tests written
against it
agree with the fake; and the client's input checks (`lark_service.application.clients.tables_wire`).
Errors are raised as `BadRequestError` / `NotFoundError`; ``user_id`` and ``app_id`` are
accepted and ignored (no tokens in memory).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from lark_service.adapters.memory.paging import offset_page
from lark_service.application.clients.tables_iter import WorkspaceTableIterators
from lark_service.application.clients.tables_wire import RECORD_PAGE_MAX, check_filter, csv
from lark_service.application.sql_quote import bind_params
from lark_service.domain.errors import BadRequestError, ConfigError, NotFoundError
from lark_service.domain.models.common import Page, check_page_size
from lark_service.domain.models.tables import (
    SqlResult,
    WorkspaceColumn,
    WorkspaceRecordPage,
    WorkspaceTable,
)
from lark_service.testing import workspace_sql as engine

Row = Mapping[str, Any]


@contextmanager
def _lark_errors() -> Iterator[None]:
    """Re-raise the engine's `WorkspaceTableError` as the client's typed error."""
    try:
        yield
    except engine.WorkspaceTableError as exc:
        kind = NotFoundError if exc.http_status == 404 else BadRequestError
        raise kind(exc.msg, code=exc.code, http_status=exc.http_status) from None


class InMemoryWorkspaceTables(WorkspaceTableIterators):
    """Workspaces → tables → rows in dicts. Seed with `add_table`."""

    def __init__(self) -> None:
        self.workspaces: dict[str, dict[str, Any]] = {}

    def add_table(
        self,
        workspace_id: str,
        name: str,
        columns: dict[str, str],
        *,
        unique: tuple[str, ...] = (),
        rows: list[dict[str, Any]] | None = None,
    ) -> None:
        """A table with a ``_id`` primary key plus ``columns`` (name → data_type)."""
        table = engine.make_table(name, columns, unique=unique, rows=rows)
        self.workspaces.setdefault(workspace_id, {})[name] = table

    def _table(self, workspace_id: str, name: str) -> dict[str, Any]:
        table: dict[str, Any] | None = self.workspaces.get(workspace_id, {}).get(name)
        if table is None:
            raise NotFoundError(f"table {name!r} not found", code=1000404, http_status=404)
        return table

    async def list_tables(
        self,
        workspace_id: str,
        *,
        user_id: str,
        page_size: int = 100,
        page_token: str | None = None,
        app_id: str | None = None,
    ) -> Page[WorkspaceTable]:
        """Every table on one page."""
        tables = self.workspaces.get(workspace_id)
        if tables is None:
            raise NotFoundError("workspace not found", code=1000404, http_status=404)
        return Page(items=[await self.get_table(workspace_id, n, user_id=user_id) for n in tables])

    async def get_table(
        self, workspace_id: str, table_name: str, *, user_id: str, app_id: str | None = None
    ) -> WorkspaceTable:
        """One table's schema."""
        t = self._table(workspace_id, table_name)
        cols = [WorkspaceColumn(**c) for c in t["columns"]]
        return WorkspaceTable(name=t["name"], description=t["description"], columns=cols)

    async def query_records(
        self,
        workspace_id: str,
        table_name: str,
        *,
        user_id: str,
        select: str | Sequence[str] | None = None,
        filter: str | None = None,
        order: str | None = None,
        page_size: int = 500,
        page_token: str | None = None,
        app_id: str | None = None,
    ) -> WorkspaceRecordPage:
        """One page of matching rows."""
        check_page_size(page_size, RECORD_PAGE_MAX)
        if order is not None:
            raise NotImplementedError("InMemoryWorkspaceTables does not sort: use execute_sql")
        table = self._table(workspace_id, table_name)
        with _lark_errors():
            match = engine.matcher(table, filter)
            cols = engine.columns(table, csv(select))
        found = [dict(r) for r in table["rows"] if match(r)]
        if cols is not None:
            found = [{c: r[c] for c in cols} for r in found]
        items, next_token, more = offset_page(found, page_size, page_token)
        return WorkspaceRecordPage(
            items=items, page_token=next_token, has_more=more, total=len(found)
        )

    async def insert_records(
        self,
        workspace_id: str,
        table: str,
        records: Sequence[Row],
        *,
        user_id: str,
        columns: str | Sequence[str] | None = None,
        app_id: str | None = None,
    ) -> list[str]:
        """Insert rows; their ids."""
        return await self.upsert_records(
            workspace_id, table, records, user_id=user_id, on_conflict="", columns=columns
        )

    async def upsert_records(
        self,
        workspace_id: str,
        table: str,
        records: Sequence[Row],
        *,
        user_id: str,
        on_conflict: str | Sequence[str],
        columns: str | Sequence[str] | None = None,
        app_id: str | None = None,
    ) -> list[str]:
        """Insert rows or update those matching on ``on_conflict``."""
        t = self._table(workspace_id, table)
        if not records:
            raise ConfigError("records must be a non-empty list of dicts")
        with _lark_errors():
            keys = engine.columns(t, csv(on_conflict))
            allowed = engine.columns(t, csv(columns))
            for row in records:
                engine.check_row(t, row, allowed)
        return engine.upsert(t, records, keys)

    def _matching(self, workspace_id: str, table: str, filter: str) -> tuple[dict[str, Any], Any]:
        """The table and the predicate of an update's or delete's required ``filter``."""
        check_filter(filter)
        t = self._table(workspace_id, table)
        with _lark_errors():
            return t, engine.matcher(t, filter)

    async def update_records(
        self,
        workspace_id: str,
        table: str,
        record: Row,
        *,
        filter: str,
        user_id: str,
        app_id: str | None = None,
    ) -> list[str]:
        """Set columns on matching rows."""
        t, match = self._matching(workspace_id, table, filter)
        hit = [r for r in t["rows"] if match(r)]
        for r in hit:
            r.update(record)
        return [str(r["_id"]) for r in hit]

    async def batch_update_records(
        self,
        workspace_id: str,
        table: str,
        records: Sequence[Row],
        *,
        user_id: str,
        app_id: str | None = None,
    ) -> list[str]:
        """Update rows by their ``_id``."""
        by_id = {str(r["_id"]): r for r in self._table(workspace_id, table)["rows"]}
        for change in records:
            if str(change.get("_id")) not in by_id:
                raise BadRequestError(f"no record with _id {change.get('_id')!r}", code=99992402)
        for change in records:
            by_id[str(change["_id"])].update(change)
        return [str(c["_id"]) for c in records]

    async def delete_records(
        self,
        workspace_id: str,
        table: str,
        *,
        filter: str,
        user_id: str,
        app_id: str | None = None,
    ) -> None:
        """Delete matching rows."""
        t, match = self._matching(workspace_id, table, filter)
        t["rows"] = [r for r in t["rows"] if not match(r)]

    async def execute_sql(
        self,
        workspace_id: str,
        sql: str,
        params: Sequence[Any] | Mapping[str, Any] = (),
        *,
        user_id: str,
        app_id: str | None = None,
    ) -> SqlResult:
        """Run one statement against an sqlite mirror of the workspace."""
        statement = bind_params(sql, params)
        with _lark_errors():
            return SqlResult(
                result=engine.run_sql(self.workspaces.get(workspace_id, {}), statement)
            )
