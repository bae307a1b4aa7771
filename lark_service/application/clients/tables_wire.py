"""Input checks and wire shapes of the aPaaS workspace-table API, used by
`WorkspaceTableClient`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import msgspec

from lark_service.application.base_client import encode_json
from lark_service.domain.errors import ConfigError
from lark_service.domain.models.ids import lark_path

W = "/open-apis/apaas/v1/workspaces"
TABLE_PAGE_MAX = 100
RECORD_PAGE_MAX = 500
WRITE_MAX = 500


class RowsWire(msgspec.Struct):
    """A query reply: ``items`` is a JSON string of rows."""

    items: str = ""
    has_more: bool = False
    page_token: str = ""
    total: int = 0


class Ids(msgspec.Struct):
    """A write reply."""

    record_ids: list[str] | None = None


def path_name(kind: str, value: str) -> str:
    """A non-empty workspace or table name, quoted for a URL path."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{kind} must be a non-empty string")
    return quote(value, safe="")


def table_path(workspace_id: str, table: str) -> str:
    """``…/workspaces/:workspace_id/tables/:table`` with both names checked and quoted."""
    return lark_path(W + "/{workspace_id}/tables/{table}", workspace_id=workspace_id, table=table)


def encode_rows(records: Sequence[Mapping[str, Any]], kind: str = "records") -> str:
    """1 to `WRITE_MAX` non-empty row dicts as the JSON string Lark wants."""
    if isinstance(records, Mapping) or not records:
        raise ConfigError(f"{kind} must be a non-empty list of dicts")
    if len(records) > WRITE_MAX:
        raise ConfigError(f"at most {WRITE_MAX} {kind} per request")
    if not all(isinstance(r, Mapping) and r for r in records):
        raise ConfigError(f"each of {kind} must be a non-empty dict")
    return encode_json([dict(r) for r in records]).decode()


def csv(value: str | Sequence[str] | None) -> str | None:
    """A column list as Lark's comma-separated string (a string passes through)."""
    if value is None or isinstance(value, str):
        return value
    return ",".join(value)


def check_filter(value: str) -> str:
    """A non-empty ``filter`` for an update or delete (never every row by omission)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("filter must be a non-empty string (refusing to touch every row)")
    return value
