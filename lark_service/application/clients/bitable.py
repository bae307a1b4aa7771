"""`BitableMixin`: part of `DocClient` — Base (Bitable) tables, fields and records.

Paths under ``/open-apis/bitable/v1/apps/:app_token`` (lark-api-reference.md §6). Reads use
the ``bitable.read`` rate family, writes ``bitable.write``.

Batch writes larger than Lark's per-request maximum (create/update 1,000, delete 500) are
chunked transparently and sent one chunk at a time, results in input order; a failing chunk
after successful ones raises `BatchPartialError` (see `lark_service.domain.batch`) and later chunks
are not
sent. Each create chunk carries its own ``client_token`` (a UUID, Lark's idempotency key), so
it may be retried safely and the request is marked idempotent for the transport.

The writes are in `lark_service.application.clients.bitable_write`, the ``iter_*`` methods in
`lark_service.application.clients.bitable_iter`, limits and input checks in
`lark_service.application.clients.bitable_base`.

Choices where Lark's docs are silent: tables and fields are listed 100 per page (their
page_size maximum is undocumented); batch_get takes at most 100 ids and is not chunked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import msgspec

from lark_service.application.clients.bitable_base import (
    APPS,
    BATCH_CREATE_MAX,
    BATCH_DELETE_MAX,
    BATCH_GET_MAX,
    BATCH_UPDATE_MAX,
    META_PAGE_MAX,
    RECORD_PAGE_MAX,
    OneRecord,
    check_id,
    check_user_id_type,
)
from lark_service.application.clients.bitable_iter import BitableIterators
from lark_service.application.clients.bitable_write import BitableWriteMixin
from lark_service.domain.errors import ConfigError
from lark_service.domain.models.bitable import (
    BatchGetResult,
    BitableField,
    BitableRecord,
    BitableTable,
    Filter,
    RecordPage,
    Sort,
    filter_from_dict,
)
from lark_service.domain.models.common import Page, check_page_size
from lark_service.domain.models.ids import lark_path

P = TypeVar("P", bound=Page[Any])

__all__ = [
    "APPS",
    "BATCH_CREATE_MAX",
    "BATCH_DELETE_MAX",
    "BATCH_GET_MAX",
    "BATCH_UPDATE_MAX",
    "META_PAGE_MAX",
    "RECORD_PAGE_MAX",
    "BitableMixin",
]


class BitableMixin(BitableIterators, BitableWriteMixin):
    """Base (Bitable) apps: tables, fields and records. Every method takes ``app_id=``."""

    # tables and fields -------------------------------------------------------------------
    async def _meta_page(
        self,
        type_: type[P],
        path: str,
        api: str,
        page_size: int,
        page_token: str | None,
        app_id: str | None,
    ) -> P:
        """One page of tables or fields (at most `META_PAGE_MAX`)."""
        query = {"page_size": check_page_size(page_size, META_PAGE_MAX), "page_token": page_token}
        page: P = await self._bitable_read(type_, "GET", path, api, app_id=app_id, query=query)
        return page

    async def list_tables(
        self,
        app_token: str,
        *,
        page_size: int = META_PAGE_MAX,
        page_token: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Page[BitableTable]:
        """One page of the app's data tables."""
        path = lark_path(APPS + "/{app_token}/tables", app_token=app_token)
        return await self._meta_page(
            Page[BitableTable], path, "bitable.table.list", page_size, page_token, app_id
        )

    async def list_fields(
        self,
        app_token: str,
        table_id: str,
        *,
        page_size: int = META_PAGE_MAX,
        page_token: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> Page[BitableField]:
        """One page of the table's fields."""
        path = f"{self._bitable_path(app_token, table_id)}/fields"
        return await self._meta_page(
            Page[BitableField], path, "bitable.field.list", page_size, page_token, app_id
        )

    # reading records ---------------------------------------------------------------------
    async def list_records(
        self,
        app_token: str,
        table_id: str,
        *,
        view_id: str | None = None,
        filter: str | None = None,
        sort: str | None = None,
        field_names: Sequence[str] | None = None,
        page_size: int = RECORD_PAGE_MAX,
        page_token: str | None = None,
        user_id_type: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> RecordPage:
        """One page of records (``filter`` is a formula string, e.g. ``CurrentValue.[A]>1``)."""
        query = {
            "view_id": view_id,
            "filter": filter,
            "sort": sort,
            "field_names": None
            if field_names is None
            else msgspec.json.encode(list(field_names)).decode(),
            "page_size": check_page_size(page_size, RECORD_PAGE_MAX),
            "page_token": page_token,
            "user_id_type": check_user_id_type(user_id_type),
        }
        return await self._bitable_read(  # type: ignore[no-any-return]
            RecordPage,
            "GET",
            f"{self._bitable_path(app_token, table_id)}/records",
            "bitable.record.list",
            app_id=app_id,
            query=query,
        )

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
        page_size: int = RECORD_PAGE_MAX,
        page_token: str | None = None,
        user_id_type: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> RecordPage:
        """One page of ``records/search`` with a typed `Filter` and `Sort` list."""
        body: dict[str, Any] = {"automatic_fields": automatic_fields}
        if filter is not None:
            body["filter"] = filter_from_dict(filter)
        if sort:
            if not all(isinstance(s, Sort) for s in sort):
                raise ConfigError("sort must be a list of Sort")
            body["sort"] = list(sort)
        if field_names is not None:
            body["field_names"] = list(field_names)
        if view_id is not None:
            body["view_id"] = view_id
        query = {
            "page_size": check_page_size(page_size, RECORD_PAGE_MAX),
            "page_token": page_token,
            "user_id_type": check_user_id_type(user_id_type),
        }
        return await self._bitable_read(  # type: ignore[no-any-return]
            RecordPage,
            "POST",
            f"{self._bitable_path(app_token, table_id)}/records/search",
            "bitable.record.search",
            app_id=app_id,
            query=query,
            json=body,
            idempotent=True,  # a search changes nothing
        )

    async def get_record(
        self,
        app_token: str,
        table_id: str,
        record_id: str,
        *,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> BitableRecord:
        """One record by id (``NotFoundError`` 1254043 when absent)."""
        path = self._record_path(app_token, table_id, record_id)
        got: OneRecord = await self._bitable_read(
            OneRecord, "GET", path, "bitable.record.get", app_id=app_id
        )
        return got.record

    async def batch_get_records(
        self,
        app_token: str,
        table_id: str,
        record_ids: Sequence[str],
        *,
        automatic_fields: bool = False,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> BatchGetResult:
        """Up to 100 records by id; ids Lark cannot return are listed in the result."""
        ids = [check_id("record_id", r) for r in record_ids]
        if not ids or len(ids) > BATCH_GET_MAX:
            raise ConfigError(f"batch_get takes 1 to {BATCH_GET_MAX} record ids")
        return await self._bitable_read(  # type: ignore[no-any-return]
            BatchGetResult,
            "POST",
            f"{self._bitable_path(app_token, table_id)}/records/batch_get",
            "bitable.record.batch_get",
            app_id=app_id,
            json={"record_ids": ids, "automatic_fields": automatic_fields},
            idempotent=True,
        )
