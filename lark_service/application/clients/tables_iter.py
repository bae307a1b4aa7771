"""`WorkspaceTableIterators`: ``iter_tables`` and ``iter_records`` on top of one-page calls,
used by `WorkspaceTableClient`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from lark_service.application.clients.tables_wire import RECORD_PAGE_MAX
from lark_service.application.pagination import iterate_pages
from lark_service.domain.models.tables import WorkspaceTable
from lark_service.domain.ports.tables import WorkspaceTablesPort


class WorkspaceTableIterators:
    """Page-after-page iterators of a `WorkspaceTablesPort`."""

    def iter_tables(
        self: WorkspaceTablesPort, workspace_id: str, *, user_id: str, app_id: str | None = None
    ) -> AsyncIterator[WorkspaceTable]:
        """Every table of the workspace."""
        return iterate_pages(
            lambda tok: self.list_tables(
                workspace_id, user_id=user_id, page_token=tok, app_id=app_id
            )
        )

    def iter_records(
        self: WorkspaceTablesPort,
        workspace_id: str,
        table_name: str,
        *,
        user_id: str,
        select: str | Sequence[str] | None = None,
        filter: str | None = None,
        order: str | None = None,
        page_size: int = RECORD_PAGE_MAX,
        app_id: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every matching row, page after page."""
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
                app_id=app_id,
            )
        )
