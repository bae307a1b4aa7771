"""Record writes of `BitableMixin`: one record, or batches chunked to Lark's maximum.

Batches larger than Lark's per-request maximum (create/update 1,000, delete 500) are sent one
chunk at a time with `lark_service.domain.batch.run_chunked` (a failing chunk after successful ones
raises
`BatchPartialError`). Each create carries its own ``client_token`` (a UUID, Lark's
idempotency key), so it may be retried safely and is marked idempotent for the transport.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from lark_service.application.clients.bitable_base import (
    BATCH_CREATE_MAX,
    BATCH_DELETE_MAX,
    BATCH_UPDATE_MAX,
    BitableBase,
    Deleted,
    OneRecord,
    Records,
    check_fields,
    check_id,
)
from lark_service.domain.batch import run_chunked
from lark_service.domain.errors import ConfigError
from lark_service.domain.models.bitable import BitableRecord, DeletedRecord


class BitableWriteMixin(BitableBase):
    """Create, update and delete Bitable records."""

    async def _post_records(
        self,
        path: str,
        api: str,
        part: Sequence[dict[str, Any]],
        app_id: str | None,
        query: dict[str, Any] | None = None,
    ) -> list[BitableRecord]:
        """POST one idempotent chunk of ``records`` (create or update); the records back."""
        kw: dict[str, Any] = {} if query is None else {"query": query}
        got: Records = await self._bitable_write(
            Records,
            "POST",
            path,
            api,
            app_id=app_id,
            json={"records": list(part)},
            idempotent=True,
            **kw,
        )
        return got.records or []

    async def create_record(
        self,
        app_token: str,
        table_id: str,
        fields: Mapping[str, Any],
        *,
        client_token: str | None = None,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> BitableRecord:
        """Create one record; ``client_token`` (a UUID, generated when absent) dedups retries."""
        got: OneRecord = await self._bitable_write(
            OneRecord,
            "POST",
            f"{self._bitable_path(app_token, table_id)}/records",
            "bitable.record.create",
            app_id=app_id,
            query={"client_token": client_token or str(uuid.uuid4())},
            json={"fields": check_fields(fields)},
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
        timeout: float | None = None,
    ) -> BitableRecord:
        """Set the given fields of one record (PUT); other fields are kept."""
        path = self._record_path(app_token, table_id, record_id)
        got: OneRecord = await self._bitable_write(
            OneRecord,
            "PUT",
            path,
            "bitable.record.update",
            app_id=app_id,
            json={"fields": check_fields(fields)},
        )
        return got.record

    async def delete_record(
        self,
        app_token: str,
        table_id: str,
        record_id: str,
        *,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> DeletedRecord:
        """Delete one record."""
        path = self._record_path(app_token, table_id, record_id)
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
        timeout: float | None = None,
    ) -> list[BitableRecord]:
        """Create records (each a mapping of field values), 1,000 per request, in order."""
        if not records:
            raise ConfigError("records is empty")
        bodies = [{"fields": check_fields(r)} for r in records]
        path = f"{self._bitable_path(app_token, table_id)}/records/batch_create"

        async def send(part: Sequence[dict[str, Any]]) -> list[BitableRecord]:
            # a fresh client_token per chunk makes a repeat of it harmless
            query = {"client_token": str(uuid.uuid4())}
            return await self._post_records(
                path, "bitable.record.batch_create", part, app_id, query
            )

        return await run_chunked(bodies, BATCH_CREATE_MAX, send)

    async def batch_update_records(
        self,
        app_token: str,
        table_id: str,
        records: Mapping[str, Mapping[str, Any]] | Sequence[tuple[str, Mapping[str, Any]]],
        *,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> list[BitableRecord]:
        """Update records given as ``{record_id: fields}`` (or pairs), 1,000 per request."""
        pairs = list(records.items()) if isinstance(records, Mapping) else list(records)
        if not pairs:
            raise ConfigError("records is empty")
        bodies = [
            {"record_id": check_id("record_id", rid), "fields": check_fields(f)} for rid, f in pairs
        ]
        path = f"{self._bitable_path(app_token, table_id)}/records/batch_update"

        async def send(part: Sequence[dict[str, Any]]) -> list[BitableRecord]:
            # setting the same values twice has the same effect: idempotent
            return await self._post_records(path, "bitable.record.batch_update", part, app_id)

        return await run_chunked(bodies, BATCH_UPDATE_MAX, send)

    async def batch_delete_records(
        self,
        app_token: str,
        table_id: str,
        record_ids: Sequence[str],
        *,
        app_id: str | None = None,
        timeout: float | None = None,
    ) -> list[DeletedRecord]:
        """Delete records by id, 500 per request, results in input order."""
        ids = [check_id("record_id", r) for r in record_ids]
        if not ids:
            raise ConfigError("record_ids is empty")
        path = f"{self._bitable_path(app_token, table_id)}/records/batch_delete"

        async def send(part: Sequence[str]) -> list[DeletedRecord]:
            got: Deleted = await self._bitable_write(
                Deleted,
                "POST",
                path,
                "bitable.record.batch_delete",
                app_id=app_id,
                json={"records": list(part)},
            )
            return got.records or []

        return await run_chunked(ids, BATCH_DELETE_MAX, send)
