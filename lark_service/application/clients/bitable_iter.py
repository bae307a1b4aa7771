"""`BitableIterators`: the ``iter_*`` methods of a `BitablePort` on top of its one-page calls,
used by `BitableMixin` (through `DocClient`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from lark_service.application.clients.bitable_base import RECORD_PAGE_MAX
from lark_service.application.pagination import iterate_pages
from lark_service.domain.models.bitable import (
    BitableField,
    BitableRecord,
    BitableTable,
    Filter,
    Sort,
)
from lark_service.domain.ports.bitable import BitablePort


class BitableIterators:
    """Page-after-page iterators of tables, fields and records."""

    def iter_tables(
        self: BitablePort, app_token: str, *, app_id: str | None = None
    ) -> AsyncIterator[BitableTable]:
        """Every data table of the app."""
        return iterate_pages(lambda tok: self.list_tables(app_token, page_token=tok, app_id=app_id))

    def iter_fields(
        self: BitablePort, app_token: str, table_id: str, *, app_id: str | None = None
    ) -> AsyncIterator[BitableField]:
        """Every field of the table."""
        return iterate_pages(
            lambda tok: self.list_fields(app_token, table_id, page_token=tok, app_id=app_id)
        )

    def iter_records(
        self: BitablePort,
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

    def iter_search_records(
        self: BitablePort,
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
