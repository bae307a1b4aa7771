"""`BitableMixin`: part of `DocClient` — Base (Bitable) tables, fields and records.

Paths under ``/open-apis/bitable/v1/apps/:app_token`` (lark-api-reference.md §6). Reads use
the ``bitable.read`` rate family, writes ``bitable.write``.

Batch writes larger than Lark's per-request maximum (create/update 1,000, delete 500) are
chunked transparently and sent one chunk at a time, results in input order; a failing chunk
after successful ones raises `BatchPartialError` (see `domain.batch`) and later chunks are not
sent. Each create chunk carries its own ``client_token`` (a UUID, Lark's idempotency key), so
it may be retried safely and the request is marked idempotent for the transport.

Choices where Lark's docs are silent: tables and fields are listed 100 per page (their
page_size maximum is undocumented); batch_get takes at most 100 ids and is not chunked.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import msgspec

from application.base_client import BaseServiceClient
from application.pagination import iterate_pages
from domain.batch import run_chunked
from domain.errors import ConfigError
from domain.models.bitable import (
    USER_ID_TYPES,
    BatchGetResult,
    BitableField,
    BitableRecord,
    BitableTable,
    DeletedRecord,
    Filter,
    RecordPage,
    Sort,
    filter_from_dict,
)
from domain.models.common import Page

APPS = "/open-apis/bitable/v1/apps"
RECORD_PAGE_MAX = 500
META_PAGE_MAX = 100
BATCH_CREATE_MAX = 1000
BATCH_UPDATE_MAX = 1000
BATCH_DELETE_MAX = 500
BATCH_GET_MAX = 100


class _Records(msgspec.Struct):
    records: list[BitableRecord] | None = None


class _OneRecord(msgspec.Struct):
    record: BitableRecord


class _Deleted(msgspec.Struct):
    records: list[DeletedRecord] | None = None


def _id(name: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name} must be a non-empty string")
    if "/" in value or "?" in value:
        raise ConfigError(f"{name} must not contain '/' or '?'")
    return value


def _page_size(value: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ConfigError(f"page_size must be an int from 1 to {maximum}")
    return value


def _user_id_type(value: str | None) -> str | None:
    if value is not None and value not in USER_ID_TYPES:
        raise ConfigError(f"user_id_type must be one of {sorted(USER_ID_TYPES)}")
    return value


def _fields(value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not value:
        raise ConfigError("fields must be a non-empty mapping of field name to value")
    return dict(value)


class BitableMixin(BaseServiceClient):
    """Base (Bitable) apps: tables, fields and records. Every method takes ``app_id=``."""

    def _bitable_path(self, app_token: str, table_id: str) -> str:
        return f"{APPS}/{_id('app_token', app_token)}/tables/{_id('table_id', table_id)}"

    async def _bitable_read(
        self, type_: type[Any], method: str, path: str, api: str, **kw: Any
    ) -> Any:
        return await self._call_data(type_, method, path, api=api, rate_family="bitable.read", **kw)

    async def _bitable_write(
        self, type_: type[Any], method: str, path: str, api: str, **kw: Any
    ) -> Any:
        return await self._call_data(
            type_, method, path, api=api, rate_family="bitable.write", **kw
        )

    # tables and fields -------------------------------------------------------------------
    async def list_tables(
        self,
        app_token: str,
        *,
        page_size: int = META_PAGE_MAX,
        page_token: str | None = None,
        app_id: str | None = None,
    ) -> Page[BitableTable]:
        """One page of the app's data tables."""
        return await self._bitable_read(  # type: ignore[no-any-return]
            Page[BitableTable],
            "GET",
            f"{APPS}/{_id('app_token', app_token)}/tables",
            "bitable.table.list",
            app_id=app_id,
            query={"page_size": _page_size(page_size, META_PAGE_MAX), "page_token": page_token},
        )

    def iter_tables(
        self, app_token: str, *, app_id: str | None = None
    ) -> AsyncIterator[BitableTable]:
        """Every data table of the app."""
        return iterate_pages(lambda tok: self.list_tables(app_token, page_token=tok, app_id=app_id))

    async def list_fields(
        self,
        app_token: str,
        table_id: str,
        *,
        page_size: int = META_PAGE_MAX,
        page_token: str | None = None,
        app_id: str | None = None,
    ) -> Page[BitableField]:
        """One page of the table's fields."""
        return await self._bitable_read(  # type: ignore[no-any-return]
            Page[BitableField],
            "GET",
            f"{self._bitable_path(app_token, table_id)}/fields",
            "bitable.field.list",
            app_id=app_id,
            query={"page_size": _page_size(page_size, META_PAGE_MAX), "page_token": page_token},
        )

    def iter_fields(
        self, app_token: str, table_id: str, *, app_id: str | None = None
    ) -> AsyncIterator[BitableField]:
        """Every field of the table."""
        return iterate_pages(
            lambda tok: self.list_fields(app_token, table_id, page_token=tok, app_id=app_id)
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
    ) -> RecordPage:
        """One page of records (``filter`` is a formula string, e.g. ``CurrentValue.[A]>1``)."""
        query = {
            "view_id": view_id,
            "filter": filter,
            "sort": sort,
            "field_names": None
            if field_names is None
            else msgspec.json.encode(list(field_names)).decode(),
            "page_size": _page_size(page_size, RECORD_PAGE_MAX),
            "page_token": page_token,
            "user_id_type": _user_id_type(user_id_type),
        }
        return await self._bitable_read(  # type: ignore[no-any-return]
            RecordPage,
            "GET",
            f"{self._bitable_path(app_token, table_id)}/records",
            "bitable.record.list",
            app_id=app_id,
            query=query,
        )

    def iter_records(
        self,
        app_token: str,
        table_id: str,
        *,
        view_id: str | None = None,
        filter: str | None = None,
        sort: str | None = None,
        field_names: Sequence[str] | None = None,
        page_size: int = RECORD_PAGE_MAX,
        user_id_type: str | None = None,
        app_id: str | None = None,
    ) -> AsyncIterator[BitableRecord]:
        """Every record, page after page (arguments as `list_records`)."""
        return iterate_pages(
            lambda tok: self.list_records(
                app_token,
                table_id,
                view_id=view_id,
                filter=filter,
                sort=sort,
                field_names=field_names,
                page_size=page_size,
                page_token=tok,
                user_id_type=user_id_type,
                app_id=app_id,
            )
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
            "page_size": _page_size(page_size, RECORD_PAGE_MAX),
            "page_token": page_token,
            "user_id_type": _user_id_type(user_id_type),
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
        page_size: int = RECORD_PAGE_MAX,
        user_id_type: str | None = None,
        app_id: str | None = None,
    ) -> AsyncIterator[BitableRecord]:
        """Every matching record, page after page (arguments as `search_records`)."""
        return iterate_pages(
            lambda tok: self.search_records(
                app_token,
                table_id,
                filter=filter,
                sort=sort,
                field_names=field_names,
                view_id=view_id,
                automatic_fields=automatic_fields,
                page_size=page_size,
                page_token=tok,
                user_id_type=user_id_type,
                app_id=app_id,
            )
        )

    async def get_record(
        self, app_token: str, table_id: str, record_id: str, *, app_id: str | None = None
    ) -> BitableRecord:
        """One record by id (``NotFoundError`` 1254043 when absent)."""
        path = f"{self._bitable_path(app_token, table_id)}/records/{_id('record_id', record_id)}"
        got: _OneRecord = await self._bitable_read(
            _OneRecord, "GET", path, "bitable.record.get", app_id=app_id
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
    ) -> BatchGetResult:
        """Up to 100 records by id; ids Lark cannot return are listed in the result."""
        ids = [_id("record_id", r) for r in record_ids]
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

    # writing records ---------------------------------------------------------------------
    async def create_record(
        self,
        app_token: str,
        table_id: str,
        fields: Mapping[str, Any],
        *,
        client_token: str | None = None,
        app_id: str | None = None,
    ) -> BitableRecord:
        """Create one record; ``client_token`` (a UUID, generated when absent) dedups retries."""
        got: _OneRecord = await self._bitable_write(
            _OneRecord,
            "POST",
            f"{self._bitable_path(app_token, table_id)}/records",
            "bitable.record.create",
            app_id=app_id,
            query={"client_token": client_token or str(uuid.uuid4())},
            json={"fields": _fields(fields)},
            idempotent=True,
        )
        return got.record

    async def update_record(
        self,
        app_token: str,
        table_id: str,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        app_id: str | None = None,
    ) -> BitableRecord:
        """Set the given fields of one record (PUT); other fields are kept."""
        path = f"{self._bitable_path(app_token, table_id)}/records/{_id('record_id', record_id)}"
        got: _OneRecord = await self._bitable_write(
            _OneRecord,
            "PUT",
            path,
            "bitable.record.update",
            app_id=app_id,
            json={"fields": _fields(fields)},
        )
        return got.record

    async def delete_record(
        self, app_token: str, table_id: str, record_id: str, *, app_id: str | None = None
    ) -> DeletedRecord:
        """Delete one record."""
        path = f"{self._bitable_path(app_token, table_id)}/records/{_id('record_id', record_id)}"
        return await self._bitable_write(  # type: ignore[no-any-return]
            DeletedRecord, "DELETE", path, "bitable.record.delete", app_id=app_id
        )

    async def batch_create_records(
        self,
        app_token: str,
        table_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        app_id: str | None = None,
    ) -> list[BitableRecord]:
        """Create records (each a mapping of field values), 1,000 per request, in order."""
        if not records:
            raise ConfigError("records is empty")
        bodies = [{"fields": _fields(r)} for r in records]
        path = f"{self._bitable_path(app_token, table_id)}/records/batch_create"

        async def send(part: Sequence[dict[str, Any]]) -> list[BitableRecord]:
            got: _Records = await self._bitable_write(
                _Records,
                "POST",
                path,
                "bitable.record.batch_create",
                app_id=app_id,
                query={"client_token": str(uuid.uuid4())},
                json={"records": list(part)},
                idempotent=True,  # the client_token makes a repeat harmless
            )
            return got.records or []

        return await run_chunked(bodies, BATCH_CREATE_MAX, send)

    async def batch_update_records(
        self,
        app_token: str,
        table_id: str,
        records: Mapping[str, Mapping[str, Any]] | Sequence[tuple[str, Mapping[str, Any]]],
        *,
        app_id: str | None = None,
    ) -> list[BitableRecord]:
        """Update records given as ``{record_id: fields}`` (or pairs), 1,000 per request."""
        pairs = list(records.items()) if isinstance(records, Mapping) else list(records)
        if not pairs:
            raise ConfigError("records is empty")
        bodies = [{"record_id": _id("record_id", rid), "fields": _fields(f)} for rid, f in pairs]
        path = f"{self._bitable_path(app_token, table_id)}/records/batch_update"

        async def send(part: Sequence[dict[str, Any]]) -> list[BitableRecord]:
            got: _Records = await self._bitable_write(
                _Records,
                "POST",
                path,
                "bitable.record.batch_update",
                app_id=app_id,
                json={"records": list(part)},
                idempotent=True,  # setting the same values twice has the same effect
            )
            return got.records or []

        return await run_chunked(bodies, BATCH_UPDATE_MAX, send)

    async def batch_delete_records(
        self,
        app_token: str,
        table_id: str,
        record_ids: Sequence[str],
        *,
        app_id: str | None = None,
    ) -> list[DeletedRecord]:
        """Delete records by id, 500 per request, results in input order."""
        ids = [_id("record_id", r) for r in record_ids]
        if not ids:
            raise ConfigError("record_ids is empty")
        path = f"{self._bitable_path(app_token, table_id)}/records/batch_delete"

        async def send(part: Sequence[str]) -> list[DeletedRecord]:
            got: _Deleted = await self._bitable_write(
                _Deleted,
                "POST",
                path,
                "bitable.record.batch_delete",
                app_id=app_id,
                json={"records": list(part)},
            )
            return got.records or []

        return await run_chunked(ids, BATCH_DELETE_MAX, send)
