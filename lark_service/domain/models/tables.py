"""aPaaS workspace data tables (``/open-apis/apaas/v1/workspaces/:workspace_id``).

Lark sends query results' ``items`` as a JSON *string*; the client decodes it, so
`WorkspaceRecordPage.items` is a list of row dicts (column name → value).
"""

from __future__ import annotations

from typing import Any

import msgspec

from lark_service.domain.models.common import Page


class WorkspaceColumn(msgspec.Struct, kw_only=True):
    """A column of a workspace table; ``data_type`` is Lark's type name (e.g. ``text``)."""

    name: str
    description: str = ""
    data_type: str = ""
    is_primary_key: bool = False
    is_unique: bool = False
    is_auto_increment: bool = False
    is_array: bool = False
    is_allow_null: bool = True
    default_value: str = ""


class WorkspaceTable(msgspec.Struct, kw_only=True):
    """A workspace data table and its schema."""

    name: str
    description: str = ""
    columns: list[WorkspaceColumn] = []

    @property
    def primary_key(self) -> list[str]:
        """Names of the primary-key columns."""
        return [c.name for c in self.columns if c.is_primary_key]


class WorkspaceRecordPage(Page[dict[str, Any]], kw_only=True):
    """One page of rows; ``total`` is Lark's count of matching rows."""

    total: int = 0


class SqlResult(msgspec.Struct, kw_only=True):
    """``sql_commands`` reply: ``result`` is the string Lark returns."""

    result: str = ""

    def json(self) -> Any:
        """``result`` decoded as JSON (rows of a query); ``None`` when empty."""
        return msgspec.json.decode(self.result) if self.result else None
