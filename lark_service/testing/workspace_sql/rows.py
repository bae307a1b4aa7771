"""Workspace tables as dicts, and the subset of Lark's PostgREST-like grammar they answer.

``filter`` is one or more ``col=op.value`` joined by ``&`` (all must hold), ``op`` one of eq,
neq, gt, gte, lt, lte, ``in.(a,b)``; ``select`` and ``columns`` are comma-separated column
names; ``order`` is ``col[.asc|.desc]`` items joined by commas; ``on_conflict`` names the
unique column(s) of an upsert. Numbers compare numerically on numeric columns. Bad input
raises `WorkspaceTableError` 99992402 (HTTP 400, "field validation failed").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

NUMERIC = frozenset(
    {"bigint", "integer", "int", "smallint", "float", "double", "decimal", "numeric"}
)
OPS = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "in"})
WRITE_MAX = 500


class WorkspaceTableError(Exception):
    """A refused table operation, as Lark would answer it (``http_status``, ``code``, ``msg``)."""

    def __init__(self, http_status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.http_status = http_status
        self.code = code
        self.msg = msg


def bad(msg: str) -> WorkspaceTableError:
    return WorkspaceTableError(400, 99992402, f"field validation failed: {msg}")


def not_found(msg: str) -> WorkspaceTableError:
    return WorkspaceTableError(404, 1000404, msg)


def make_table(
    name: str,
    columns: Mapping[str, str],
    *,
    unique: tuple[str, ...] = (),
    rows: Iterable[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A table with a ``_id`` bigint primary key plus ``columns`` (name → data_type)."""
    cols = [{"name": "_id", "data_type": "bigint", "is_primary_key": True, "is_unique": True}]
    cols[0] |= {"is_auto_increment": True, "is_allow_null": False}
    for cname, dtype in columns.items():
        cols.append({"name": cname, "data_type": dtype, "is_unique": cname in unique})
    table = {"name": name, "description": "", "columns": cols, "rows": [], "next_id": 1}
    for row in rows or []:
        insert(table, row)
    return table


def insert(table: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Append ``row`` (missing columns ``None``), assigning ``_id`` when absent."""
    new = {c["name"]: None for c in table["columns"]} | row
    if new.get("_id") is None:
        new["_id"] = table["next_id"]
    table["next_id"] = max(table["next_id"], int(new["_id"])) + 1
    table["rows"].append(new)
    return new


def types(table: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["data_type"] for c in table["columns"]}


def _split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside PostgREST's double-quoted values."""
    parts, current, quoted, escaped = [], "", False, False
    for ch in text:
        if escaped:
            current, escaped = current + ch, False
        elif ch == "\\" and quoted:
            current, escaped = current + ch, True
        elif ch == '"':
            current, quoted = current + ch, not quoted
        elif ch == sep and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def _cast(dtype: str, raw: str) -> Any:
    raw = _unquote(raw)
    if dtype not in NUMERIC:
        return raw
    try:
        return float(raw)
    except ValueError:
        raise bad(f"{raw!r} is not a number") from None


def matcher(table: dict[str, Any], expr: str | None) -> Callable[[dict[str, Any]], bool]:
    """A predicate for ``filter`` ``expr`` (every row matches an empty one)."""
    col_types, conds = types(table), []
    for part in _split(expr, "&") if expr else []:
        col, eq, rest = part.partition("=")
        op, dot, raw = rest.partition(".")
        if not eq or not dot or op not in OPS or col not in col_types:
            raise bad(f"filter {part!r}")
        if op == "in":
            if not (raw.startswith("(") and raw.endswith(")")):
                raise bad(f"filter {part!r}")
            conds.append((col, op, [_cast(col_types[col], v) for v in _split(raw[1:-1], ",")]))
        else:
            conds.append((col, op, _cast(col_types[col], raw)))

    def match(row: dict[str, Any]) -> bool:
        for col, op, want in conds:
            v = row.get(col)
            v = float(v) if v is not None and col_types[col] in NUMERIC else v
            if (op == "eq" and v != want) or (op == "neq" and v == want):
                return False
            if op == "in" and v not in want:
                return False
            if op in ("gt", "gte", "lt", "lte") and (v is None or not _cmp(op, v, want)):
                return False
        return True

    return match


def _cmp(op: str, a: Any, b: Any) -> bool:
    return bool({"gt": a > b, "gte": a >= b, "lt": a < b}.get(op, a <= b))


def columns(table: dict[str, Any], spec: str | None) -> list[str] | None:
    """The column names of a ``select``/``columns``/``on_conflict`` list; ``None`` if empty."""
    if not spec:
        return None
    names = [c.strip() for c in spec.split(",")]
    for n in names:
        if n not in types(table):
            raise bad(f"unknown column {n!r}")
    return names


def check_row(table: dict[str, Any], row: Mapping[str, Any], allowed: list[str] | None) -> None:
    """Refuse a row naming a column the table (or the ``columns`` list) lacks."""
    for col in row:
        if col not in types(table) or (allowed is not None and col not in allowed):
            raise bad(f"unknown column {col!r}")


def order_rows(table: dict[str, Any], found: list[dict[str, Any]], order: str | None) -> None:
    """Sort ``found`` in place by an ``order`` list (``None`` values first when ascending)."""
    for spec in reversed((order or "").split(",")):
        if not spec:
            continue
        col, _, direction = spec.partition(".")
        if col not in types(table) or direction not in ("", "asc", "desc"):
            raise bad(f"order {spec!r}")
        found.sort(key=lambda r: (r[col] is not None, r[col]), reverse=direction == "desc")


def upsert(
    table: dict[str, Any], new: Iterable[Mapping[str, Any]], keys: list[str] | None
) -> list[str]:
    """Insert each row, or update the first row equal on ``keys``; the rows' ids."""
    ids = []
    for row in new:
        same = [r for r in table["rows"] if keys and all(r[k] == row.get(k) for k in keys)]
        if same:
            same[0].update(row)
            ids.append(str(same[0]["_id"]))
        else:
            ids.append(str(insert(table, dict(row))["_id"]))
    return ids
