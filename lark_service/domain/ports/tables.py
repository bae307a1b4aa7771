"""The aPaaS workspace-table surface of `WorkspaceTableClient` as a Protocol, so embedders
can depend on it (in unit tests: a `WorkspaceTableClient` on ``lark_service.testing.fake_pool``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from lark_service.domain.models.common import Page
from lark_service.domain.models.tables import SqlResult, WorkspaceRecordPage, WorkspaceTable

Row = Mapping[str, Any]


class WorkspaceTablesPort(Protocol):
    async def list_tables(
        self,
        workspace_id: str,
        *,
        user_id: str,
        page_size: int = 100,
        page_token: str | None = None,
        app_id: str | None = None,
    ) -> Page[WorkspaceTable]: ...

    def iter_tables(
        self, workspace_id: str, *, user_id: str, app_id: str | None = None
    ) -> AsyncIterator[WorkspaceTable]: ...

    async def get_table(
        self, workspace_id: str, table_name: str, *, user_id: str, app_id: str | None = None
    ) -> WorkspaceTable: ...

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
    ) -> WorkspaceRecordPage: ...

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
    ) -> AsyncIterator[dict[str, Any]]: ...

    async def insert_records(
        self,
        workspace_id: str,
        table: str,
        records: Sequence[Row],
        *,
        user_id: str,
        columns: str | Sequence[str] | None = None,
        app_id: str | None = None,
    ) -> list[str]: ...

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
    ) -> list[str]: ...

    async def update_records(
        self,
        workspace_id: str,
        table: str,
        record: Row,
        *,
        filter: str,
        user_id: str,
        app_id: str | None = None,
    ) -> list[str]: ...

    async def batch_update_records(
        self,
        workspace_id: str,
        table: str,
        records: Sequence[Row],
        *,
        user_id: str,
        app_id: str | None = None,
    ) -> list[str]: ...

    async def delete_records(
        self,
        workspace_id: str,
        table: str,
        *,
        filter: str,
        user_id: str,
        app_id: str | None = None,
    ) -> None: ...

    async def execute_sql(
        self,
        workspace_id: str,
        sql: str,
        params: Sequence[Any] | Mapping[str, Any] = (),
        *,
        user_id: str,
        app_id: str | None = None,
    ) -> SqlResult: ...
