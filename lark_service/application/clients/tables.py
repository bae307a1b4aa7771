"""`WorkspaceTableClient`: aPaaS workspace data tables, called with a user's token.

Paths under ``/open-apis/apaas/v1/workspaces/:workspace_id`` (lark-api-reference.md §6).
These APIs accept only a user_access_token, so every method takes ``user_id=`` (whose token,
from the pool) and raises `UserNotAuthorizedError` when that user has not authorized the app.
Rate family ``apaas``.

Lark sends rows as JSON *strings* (``items`` in replies, ``records``/``record`` in bodies);
this client encodes and decodes them, so callers see lists of dicts. ``execute_sql`` binds
parameters with `lark_service.application.sql_quote` (``%s`` / ``%(name)s``), never string
formatting.

Filters: build them with `lark_service.application.clients.tables_filter` (``eq``, ``gt``,
``in_``, ...) so values are quoted; a hand-written string is passed through as is.

Choices where Lark's docs are silent: ``filter``, ``select``, ``order`` and ``on_conflict``
are passed through as Lark's PostgREST-like strings (``select``/``on_conflict`` also accept a
list of column names, joined with commas); tables are listed 100 per page and rows up to 500
per page and per request (``insert_records`` splits more into several requests); an empty
``filter`` on update/delete is refused with `ConfigError` so a missing argument cannot touch
every row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from lark_service.application.base_client import BaseServiceClient, decode_data, encode_json
from lark_service.application.clients.tables_iter import WorkspaceTableIterators
from lark_service.application.clients.tables_wire import (
    RECORD_PAGE_MAX,
    TABLE_PAGE_MAX,
    WRITE_MAX,
    Ids,
    RowsWire,
    W,
    check_filter,
    csv,
    encode_rows,
    table_path,
)
from lark_service.application.sql_quote import bind_params
from lark_service.domain.batch import chunks, run_chunked
from lark_service.domain.errors import ConfigError, ServerError
from lark_service.domain.models.common import Page, check_page_size
from lark_service.domain.models.ids import lark_path
from lark_service.domain.models.tables import SqlResult, WorkspaceRecordPage, WorkspaceTable

__all__ = ["RECORD_PAGE_MAX", "TABLE_PAGE_MAX", "WRITE_MAX", "WorkspaceTableClient"]


class WorkspaceTableClient(WorkspaceTableIterators, BaseServiceClient):
    """aPaaS workspace tables. Every method takes ``user_id=`` and ``app_id=`` keyword-only."""

    async def _apaas(self, method: str, path: str, api: str, **kw: Any) -> Any:
        reply = await self._call(method, path, api=api, rate_family="apaas", **kw)
        return reply.data

    async def list_tables(
        self,
        workspace_id: str,
        *,
        user_id: str,
        page_size: int = TABLE_PAGE_MAX,
        page_token: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Page[WorkspaceTable]:
        """One page of the workspace's tables (with their columns)."""
        check_page_size(page_size, TABLE_PAGE_MAX)
        return await self._call_data(
            Page[WorkspaceTable],
            "GET",
            lark_path(W + "/{workspace_id}/tables", workspace_id=workspace_id),
            api="apaas.table.list",
            app_id=app_id,
            user_id=user_id,
            query={"page_size": page_size, "page_token": page_token},
            rate_family="apaas",
        )

    async def get_table(
        self,
        workspace_id: str,
        table_name: str,
        *,
        user_id: str,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> WorkspaceTable:
        """One table's schema (columns)."""
        return await self._call_data(
            WorkspaceTable,
            "GET",
            table_path(workspace_id, table_name),
            api="apaas.table.get",
            app_id=app_id,
            user_id=user_id,
            rate_family="apaas",
        )

    def _records_path(self, workspace_id: str, table: str, suffix: str = "records") -> str:
        return f"{table_path(workspace_id, table)}/{suffix}"

    async def query_records(
        self,
        workspace_id: str,
        table_name: str,
        *,
        user_id: str,
        select: str | Sequence[str] | None = None,
        filter: str | None = None,
        order: str | None = None,
        page_size: int = RECORD_PAGE_MAX,
        page_token: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> WorkspaceRecordPage:
        """One page of rows; ``items`` decoded from Lark's JSON string into dicts."""
        check_page_size(page_size, RECORD_PAGE_MAX)
        query = {
            "page_size": page_size,
            "page_token": page_token,
            "select": csv(select),
            "filter": filter,
            "order": order,
        }
        data = await self._apaas(
            "GET",
            self._records_path(workspace_id, table_name),
            "apaas.records.query",
            app_id=app_id,
            user_id=user_id,
            query=query,
        )
        wire = decode_data(data, RowsWire)
        try:
            items = msgspec.json.decode(wire.items, type=list[dict[str, Any]]) if wire.items else []
        except msgspec.DecodeError as exc:
            raise ServerError(f"items is not a JSON list of rows: {exc}", code=-2) from None
        return WorkspaceRecordPage(
            items=items,
            page_token=wire.page_token or None,
            has_more=wire.has_more,
            total=wire.total,
        )

    async def _post_rows(
        self,
        workspace_id: str,
        table: str,
        records: Sequence[Mapping[str, Any]],
        query: dict[str, Any],
        api: str,
        user_id: str,
        app_id: str | None,
    ) -> list[str]:
        data = await self._apaas(
            "POST",
            self._records_path(workspace_id, table),
            api,
            app_id=app_id,
            user_id=user_id,
            query=query,
            json={"records": encode_rows(records)},
        )
        return decode_data(data, Ids).record_ids or []

    async def insert_records(
        self,
        workspace_id: str,
        table: str,
        records: Sequence[Mapping[str, Any]],
        *,
        user_id: str,
        columns: str | Sequence[str] | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> list[str]:
        """Insert rows; the new record ids, in input order.

        Any number of rows: more than `WRITE_MAX` go as consecutive requests of at most
        `WRITE_MAX` (like Bitable's batch writes); a request failing after earlier ones were
        written raises `BatchPartialError` naming the rows written and those not."""
        for chunk in chunks(records, WRITE_MAX) or [records]:
            encode_rows(chunk)  # every row is checked before the first request is sent

        async def send(chunk: Sequence[Mapping[str, Any]]) -> list[str]:
            return await self._post_rows(
                workspace_id,
                table,
                chunk,
                {"columns": csv(columns)},
                "apaas.records.insert",
                user_id,
                app_id,
            )

        return await run_chunked(records, WRITE_MAX, send)

    async def upsert_records(
        self,
        workspace_id: str,
        table: str,
        records: Sequence[Mapping[str, Any]],
        *,
        user_id: str,
        on_conflict: str | Sequence[str],
        columns: str | Sequence[str] | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> list[str]:
        """Insert rows, or update the row whose ``on_conflict`` columns match."""
        conflict = csv(on_conflict)
        if not conflict:
            raise ConfigError("on_conflict must name the unique column(s)")
        return await self._post_rows(
            workspace_id,
            table,
            records,
            {"columns": csv(columns), "on_conflict": conflict},
            "apaas.records.upsert",
            user_id,
            app_id,
        )

    async def update_records(
        self,
        workspace_id: str,
        table: str,
        record: Mapping[str, Any],
        *,
        filter: str,
        user_id: str,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> list[str]:
        """Set ``record``'s columns on every row matching ``filter``; their ids."""
        if not isinstance(record, Mapping) or not record:
            raise ConfigError("record must be a non-empty dict")
        data = await self._apaas(
            "PATCH",
            self._records_path(workspace_id, table),
            "apaas.records.update",
            app_id=app_id,
            user_id=user_id,
            query={"filter": check_filter(filter)},
            json={"record": encode_json(dict(record)).decode()},
        )
        return decode_data(data, Ids).record_ids or []

    async def batch_update_records(
        self,
        workspace_id: str,
        table: str,
        records: Sequence[Mapping[str, Any]],
        *,
        user_id: str,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> list[str]:
        """Update rows each identified by its primary key (e.g. ``_id``) within the dict."""
        data = await self._apaas(
            "PATCH",
            self._records_path(workspace_id, table, "records_batch_update"),
            "apaas.records.batch_update",
            app_id=app_id,
            user_id=user_id,
            json={"records": encode_rows(records)},
        )
        return decode_data(data, Ids).record_ids or []

    async def delete_records(
        self,
        workspace_id: str,
        table: str,
        *,
        filter: str,
        user_id: str,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Delete every row matching ``filter``."""
        await self._apaas(
            "DELETE",
            self._records_path(workspace_id, table),
            "apaas.records.delete",
            app_id=app_id,
            user_id=user_id,
            query={"filter": check_filter(filter)},
        )

    async def execute_sql(
        self,
        workspace_id: str,
        sql: str,
        params: Sequence[Any] | Mapping[str, Any] = (),
        *,
        user_id: str,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> SqlResult:
        """Run one SQL statement with ``%s`` / ``%(name)s`` parameters bound as literals."""
        statement = bind_params(sql, params)
        return await self._call_data(
            SqlResult,
            "POST",
            lark_path(W + "/{workspace_id}/sql_commands", workspace_id=workspace_id),
            api="apaas.sql",
            app_id=app_id,
            user_id=user_id,
            json={"sql": statement},
            rate_family="apaas",
        )
