"""`InMemoryBitable`: a dict-backed `BitablePort` for embedders' unit tests.

Behaves like the client against Lark on the main operations: unknown app / table / record
raise `NotFoundError` with Lark's codes (1254040 / 1254041 / 1254043), unknown field names
`BadRequestError` 1254045, bad input `ConfigError`; search evaluates the typed `Filter`
(numbers compared numerically for number fields, type 2) and `Sort`. Not modelled: views,
formula filters of `list_records` (``filter``/``sort`` strings raise NotImplementedError),
user fields, batch chunking (no per-request cap applies in memory).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from lark_service.adapters.memory.bitable_search import holds, sort_records
from lark_service.adapters.memory.paging import offset_page
from lark_service.application.clients.bitable_base import check_fields
from lark_service.application.clients.bitable_iter import BitableIterators
from lark_service.domain.errors import BadRequestError, NotFoundError
from lark_service.domain.models.bitable import (
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
from lark_service.domain.models.common import Page, check_page_size

Fields = Mapping[str, Any]


def _page(items: list[Any], page_size: int, page_token: str | None) -> tuple[list[Any], str, bool]:
    check_page_size(page_size, 500)
    chunk, next_token, more = offset_page(items, page_size, page_token)
    return chunk, next_token or "", more


class InMemoryBitable(BitableIterators):
    """Apps → tables → records in dicts. Seed with `add_table`."""

    def __init__(self) -> None:
        self.apps: dict[str, dict[str, dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    def add_table(self, app_token: str, name: str, fields: Mapping[str, int]) -> str:
        """Create a table with ``fields`` (name → Lark type code); its table_id."""
        table_id = f"tbl{next(self._ids):08d}"
        self.apps.setdefault(app_token, {})[table_id] = {
            "table": BitableTable(table_id=table_id, name=name, revision=1),
            "fields": {
                n: BitableField(field_id=f"fld{i:06d}", field_name=n, type=t, is_primary=i == 0)
                for i, (n, t) in enumerate(fields.items())
            },
            "records": {},
        }
        return table_id

    def _table(self, app_token: str, table_id: str) -> dict[str, Any]:
        tables = self.apps.get(app_token)
        if tables is None:
            raise NotFoundError("BaseTokenNotFound", code=1254040)
        if table_id not in tables:
            raise NotFoundError("TableIdNotFound", code=1254041)
        return tables[table_id]

    def _record(self, table: dict[str, Any], record_id: str) -> BitableRecord:
        rec: BitableRecord | None = table["records"].get(record_id)
        if rec is None:
            raise NotFoundError("RecordIdNotFound", code=1254043)
        return rec

    @staticmethod
    def _check(table: dict[str, Any], fields: Fields) -> dict[str, Any]:
        fields = check_fields(fields)
        for name in fields:
            if name not in table["fields"]:
                raise BadRequestError(f"FieldNameNotFound: {name}", code=1254045)
        return fields

    async def list_tables(
        self,
        app_token: str,
        *,
        page_size: int = 100,
        page_token: str | None = None,
        app_id: str | None = None,
    ) -> Page[BitableTable]:
        """One page of tables."""
        if app_token not in self.apps:
            raise NotFoundError("BaseTokenNotFound", code=1254040)
        tables = [t["table"] for t in self.apps[app_token].values()]
        items, token, more = _page(tables, page_size, page_token)
        return Page(items=items, page_token=token or None, has_more=more)

    async def list_fields(
        self,
        app_token: str,
        table_id: str,
        *,
        page_size: int = 100,
        page_token: str | None = None,
        app_id: str | None = None,
    ) -> Page[BitableField]:
        """One page of fields."""
        fields = list(self._table(app_token, table_id)["fields"].values())
        items, token, more = _page(fields, page_size, page_token)
        return Page(items=items, page_token=token or None, has_more=more)

    def _records_page(
        self, recs: list[BitableRecord], names: Sequence[str] | None, size: int, tok: str | None
    ) -> RecordPage:
        if names is not None:
            recs = [
                msgspec.structs.replace(r, fields={k: v for k, v in r.fields.items() if k in names})
                for r in recs
            ]
        items, token, more = _page(recs, size, tok)
        return RecordPage(items=items, page_token=token or None, has_more=more, total=len(recs))

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
    ) -> RecordPage:
        """One page of records; formula ``filter``/``sort`` are not modelled."""
        if filter is not None or sort is not None:
            raise NotImplementedError("InMemoryBitable does not evaluate formulas: use search")
        recs = list(self._table(app_token, table_id)["records"].values())
        return self._records_page(recs, field_names, page_size, page_token)

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
    ) -> RecordPage:
        """One page of matching records, sorted."""
        table = self._table(app_token, table_id)
        recs = list(table["records"].values())
        if filter is not None:
            flt = filter_from_dict(filter)
            recs = [r for r in recs if holds(table["fields"], flt, r.fields)]
        recs = sort_records(table["fields"], recs, sort or [])
        return self._records_page(recs, field_names, page_size, page_token)

    async def get_record(
        self, app_token: str, table_id: str, record_id: str, *, app_id: str | None = None
    ) -> BitableRecord:
        """One record."""
        return self._record(self._table(app_token, table_id), record_id)

    async def batch_get_records(
        self,
        app_token: str,
        table_id: str,
        record_ids: Sequence[str],
        *,
        automatic_fields: bool = False,
        app_id: str | None = None,
    ) -> BatchGetResult:
        """Records by id; absent ids listed."""
        recs = self._table(app_token, table_id)["records"]
        return BatchGetResult(
            records=[recs[i] for i in record_ids if i in recs],
            absent_record_ids=[i for i in record_ids if i not in recs],
        )

    async def create_record(
        self,
        app_token: str,
        table_id: str,
        fields: Fields,
        *,
        client_token: str | None = None,
        app_id: str | None = None,
    ) -> BitableRecord:
        """Create one record."""
        return (await self.batch_create_records(app_token, table_id, [fields]))[0]

    async def update_record(
        self,
        app_token: str,
        table_id: str,
        record_id: str,
        fields: Fields,
        *,
        app_id: str | None = None,
    ) -> BitableRecord:
        """Set some fields of one record."""
        return (await self.batch_update_records(app_token, table_id, {record_id: fields}))[0]

    async def delete_record(
        self, app_token: str, table_id: str, record_id: str, *, app_id: str | None = None
    ) -> DeletedRecord:
        """Delete one record."""
        return (await self.batch_delete_records(app_token, table_id, [record_id]))[0]

    async def batch_create_records(
        self, app_token: str, table_id: str, records: Sequence[Fields], *, app_id: str | None = None
    ) -> list[BitableRecord]:
        """Create records, in order (all-or-nothing)."""
        table = self._table(app_token, table_id)
        checked = [self._check(table, r) for r in records]
        now = int(time.time() * 1000)
        out = []
        for fields in checked:
            rid = f"rec{next(self._ids):010d}"
            rec = BitableRecord(
                record_id=rid, fields=fields, created_time=now, last_modified_time=now
            )
            table["records"][rid] = rec
            out.append(rec)
        return out

    async def batch_update_records(
        self,
        app_token: str,
        table_id: str,
        records: Mapping[str, Fields] | Sequence[tuple[str, Fields]],
        *,
        app_id: str | None = None,
    ) -> list[BitableRecord]:
        """Update records by id (all-or-nothing)."""
        table = self._table(app_token, table_id)
        pairs = list(records.items()) if isinstance(records, Mapping) else list(records)
        plan = [(self._record(table, rid), self._check(table, f)) for rid, f in pairs]
        out = []
        for rec, fields in plan:
            new = msgspec.structs.replace(
                rec, fields={**rec.fields, **fields}, last_modified_time=int(time.time() * 1000)
            )
            table["records"][rec.record_id] = new
            out.append(new)
        return out

    async def batch_delete_records(
        self, app_token: str, table_id: str, record_ids: Sequence[str], *, app_id: str | None = None
    ) -> list[DeletedRecord]:
        """Delete records by id (all-or-nothing)."""
        table = self._table(app_token, table_id)
        for rid in record_ids:
            self._record(table, rid)
        for rid in record_ids:
            del table["records"][rid]
        return [DeletedRecord(record_id=rid, deleted=True) for rid in record_ids]
