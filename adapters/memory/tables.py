"""`InMemoryWorkspaceTables`: a dict-backed `WorkspaceTablesPort` for embedders' unit tests.

It shares the fake Lark server's table logic (`adapters.fake_lark.apaas`): the same subset of
the PostgREST-like ``filter``/``select``/``order`` grammar and the same sqlite-backed
``execute_sql`` (parameters bound by `application.sql_quote`), so tests written against it
agree with the fake. Errors are raised as `BadRequestError` / `NotFoundError`; ``user_id``
and ``app_id`` are accepted and ignored (no tokens in memory).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from adapters.fake_lark import apaas as logic
from adapters.fake_lark.models import FakeLarkError
from application.pagination import iterate_pages
from application.sql_quote import bind_params
from domain.errors import BadRequestError, ConfigError, LarkAPIError, NotFoundError
from domain.models.common import Page
from domain.models.tables import SqlResult, WorkspaceColumn, WorkspaceRecordPage, WorkspaceTable

Row = Mapping[str, Any]


def _csv(value: str | Sequence[str] | None) -> str | None:
    return value if value is None or isinstance(value, str) else ",".join(value)


def _lark(exc: FakeLarkError) -> LarkAPIError:
    kind = NotFoundError if exc.http_status == 404 else BadRequestError
    return kind(exc.msg, code=exc.code, http_status=exc.http_status)


class InMemoryWorkspaceTables:
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
        holder: Any = type("S", (), {"state": {"apaas": {"workspaces": self.workspaces}}})
        logic.add_table(holder, workspace_id, name, columns, unique=unique, rows=rows)

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

    def iter_tables(
        self, workspace_id: str, *, user_id: str, app_id: str | None = None
    ) -> AsyncIterator[WorkspaceTable]:
        """Every table."""
        return iterate_pages(lambda tok: self.list_tables(workspace_id, user_id=user_id))

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
        if not 1 <= page_size <= 500:
            raise ConfigError("page_size must be from 1 to 500")
        if order is not None:
            raise NotImplementedError("InMemoryWorkspaceTables does not sort: use execute_sql")
        table = self._table(workspace_id, table_name)
        try:
            match = logic._matcher(table, filter)
            cols = logic._columns(table, _csv(select))
        except FakeLarkError as exc:
            raise _lark(exc) from None
        found = [dict(r) for r in table["rows"] if match(r)]
        if cols is not None:
            found = [{c: r[c] for c in cols} for r in found]
        start = int(page_token or 0)
        more = start + page_size < len(found)
        return WorkspaceRecordPage(
            items=found[start : start + page_size],
            page_token=str(start + page_size) if more else None,
            has_more=more,
            total=len(found),
        )

    def iter_records(
        self,
        workspace_id: str,
        table_name: str,
        *,
        user_id: str,
        select: str | Sequence[str] | None = None,
        filter: str | None = None,
        order: str | None = None,
        page_size: int = 500,
        app_id: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every matching row."""
        return iterate_pages(
            lambda tok: self.query_records(
                workspace_id,
                table_name,
                user_id=user_id,
                select=select,
                filter=filter,
                order=order,
                page_size=page_size,
                page_token=tok,
            )
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
        try:
            keys = logic._columns(t, _csv(on_conflict))
            allowed = logic._columns(t, _csv(columns))
            for row in records:
                for col in row:
                    if col not in logic._types(t) or (allowed is not None and col not in allowed):
                        raise logic.bad(f"unknown column {col!r}")
        except FakeLarkError as exc:
            raise _lark(exc) from None
        ids = []
        for row in records:
            same = [r for r in t["rows"] if keys and all(r[k] == row.get(k) for k in keys)]
            if same:
                same[0].update(row)
                ids.append(str(same[0]["_id"]))
            else:
                ids.append(str(logic._insert(t, dict(row))["_id"]))
        return ids

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
        if not filter:
            raise ConfigError("filter must be a non-empty string")
        t = self._table(workspace_id, table)
        try:
            match = logic._matcher(t, filter)
        except FakeLarkError as exc:
            raise _lark(exc) from None
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
        if not filter:
            raise ConfigError("filter must be a non-empty string")
        t = self._table(workspace_id, table)
        try:
            match = logic._matcher(t, filter)
        except FakeLarkError as exc:
            raise _lark(exc) from None
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
        try:
            return SqlResult(result=logic.run_sql(self.workspaces.get(workspace_id, {}), statement))
        except FakeLarkError as exc:
            raise _lark(exc) from None
