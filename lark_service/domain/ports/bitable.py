"""The Bitable surface of `DocClient` as a Protocol, so embedders can depend on it.

In unit tests, give them a `DocClient` on ``lark_service.testing.fake_pool`` (the fake Lark
in memory) rather than a stand-in of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from lark_service.domain.models.bitable import (
    BatchGetResult,
    BitableField,
    BitableRecord,
    BitableTable,
    DeletedRecord,
    Filter,
    RecordPage,
    Sort,
)
from lark_service.domain.models.common import Page

Fields = Mapping[str, Any]


class BitablePort(Protocol):
    async def list_tables(
        self,
        app_token: str,
        *,
        page_size: int = 100,
        page_token: str | None = None,
        app_id: str | None = None,
    ) -> Page[BitableTable]: ...

    def iter_tables(
        self, app_token: str, *, app_id: str | None = None
    ) -> AsyncIterator[BitableTable]: ...

    async def list_fields(
        self,
        app_token: str,
        table_id: str,
        *,
        page_size: int = 100,
        page_token: str | None = None,
        app_id: str | None = None,
    ) -> Page[BitableField]: ...

    def iter_fields(
        self, app_token: str, table_id: str, *, app_id: str | None = None
    ) -> AsyncIterator[BitableField]: ...

    async def list_records(
        self,
        app_token: str,
        table_id: str,
        *,
        view_id: str | None = None,
        filter: str | None = None,
        sort: str | None = None,
        field_names: Sequence[str] | None = None,
        page_size: int = 500,
        page_token: str | None = None,
        user_id_type: str | None = None,
        app_id: str | None = None,
    ) -> RecordPage: ...

    def iter_records(
        self,
        app_token: str,
        table_id: str,
        *,
        view_id: str | None = None,
        filter: str | None = None,
        sort: str | None = None,
        field_names: Sequence[str] | None = None,
        page_size: int = 500,
        user_id_type: str | None = None,
        app_id: str | None = None,
    ) -> AsyncIterator[BitableRecord]: ...

    async def search_records(
        self,
        app_token: str,
        table_id: str,
        *,
        filter: Filter | dict[str, Any] | None = None,
        sort: Sequence[Sort] | None = None,
        field_names: Sequence[str] | None = None,
        view_id: str | None = None,
        automatic_fields: bool = False,
        page_size: int = 500,
        page_token: str | None = None,
        user_id_type: str | None = None,
        app_id: str | None = None,
    ) -> RecordPage: ...

    def iter_search_records(
        self,
        app_token: str,
        table_id: str,
        *,
        filter: Filter | dict[str, Any] | None = None,
        sort: Sequence[Sort] | None = None,
        field_names: Sequence[str] | None = None,
        view_id: str | None = None,
        automatic_fields: bool = False,
        page_size: int = 500,
        user_id_type: str | None = None,
        app_id: str | None = None,
    ) -> AsyncIterator[BitableRecord]: ...

    async def get_record(
        self, app_token: str, table_id: str, record_id: str, *, app_id: str | None = None
    ) -> BitableRecord: ...

    async def batch_get_records(
        self,
        app_token: str,
        table_id: str,
        record_ids: Sequence[str],
        *,
        automatic_fields: bool = False,
        app_id: str | None = None,
    ) -> BatchGetResult: ...

    async def create_record(
        self,
        app_token: str,
        table_id: str,
        fields: Fields,
        *,
        client_token: str | None = None,
        app_id: str | None = None,
    ) -> BitableRecord: ...

    async def update_record(
        self,
        app_token: str,
        table_id: str,
        record_id: str,
        fields: Fields,
        *,
        app_id: str | None = None,
    ) -> BitableRecord: ...

    async def delete_record(
        self, app_token: str, table_id: str, record_id: str, *, app_id: str | None = None
    ) -> DeletedRecord: ...

    async def batch_create_records(
        self,
        app_token: str,
        table_id: str,
        records: Sequence[Fields],
        *,
        app_id: str | None = None,
    ) -> list[BitableRecord]: ...

    async def batch_update_records(
        self,
        app_token: str,
        table_id: str,
        records: Mapping[str, Fields] | Sequence[tuple[str, Fields]],
        *,
        app_id: str | None = None,
    ) -> list[BitableRecord]: ...

    async def batch_delete_records(
        self,
        app_token: str,
        table_id: str,
        record_ids: Sequence[str],
        *,
        app_id: str | None = None,
    ) -> list[DeletedRecord]: ...
