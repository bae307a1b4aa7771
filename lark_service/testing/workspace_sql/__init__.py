"""The in-process workspace-table engine shared by the fake Lark server and the in-memory adapter.

A table is a dict ``{name, description, columns, rows, next_id}``;
`lark_service.testing.workspace_sql.rows`
holds the fake's subset of Lark's PostgREST-like ``filter``/``select``/``order`` grammar and the
row writes (insert, upsert), `lark_service.testing.workspace_sql.engine` runs one SQL statement in
an
``sqlite3`` mirror of a workspace. Errors are `WorkspaceTableError` (an HTTP status, a Lark
code and a message); each user translates it into its own error type.
"""

from lark_service.testing.workspace_sql.engine import run_sql, split_sql
from lark_service.testing.workspace_sql.rows import (
    NUMERIC,
    OPS,
    WRITE_MAX,
    WorkspaceTableError,
    bad,
    check_row,
    columns,
    insert,
    make_table,
    matcher,
    not_found,
    order_rows,
    types,
    upsert,
)

__all__ = [
    "NUMERIC",
    "OPS",
    "WRITE_MAX",
    "WorkspaceTableError",
    "bad",
    "check_row",
    "columns",
    "insert",
    "make_table",
    "matcher",
    "not_found",
    "order_rows",
    "run_sql",
    "split_sql",
    "types",
    "upsert",
]
