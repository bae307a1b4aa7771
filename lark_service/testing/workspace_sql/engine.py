"""``sql_commands`` in process: one SQL statement run in an ``sqlite3`` mirror of a workspace.

It proves that bound values arrive as data: a small tokenizer splits the SQL into string
literals (``'…'`` with ``''`` doubling, ``E'…'`` with backslash escapes), quoted identifiers,
comments and code; more than one statement is refused, ``E''`` literals are rewritten as
standard ones, and the statement runs in an in-memory ``sqlite3`` mirror of the workspace
whose changes are copied back. A query's result is the JSON array of its rows, other
statements give ``""``. Dollar quoting and arrays are not supported.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from lark_service.testing.workspace_sql.rows import bad


def split_sql(sql: str) -> tuple[list[str], list[str]]:
    """``(statements, literals)``: statements rewritten for sqlite (E'' → '', comments
    dropped), and every string literal's decoded value. Raises `WorkspaceTableError` on bad SQL."""
    out, literals, statements = [], [], []
    i = 0
    while i < len(sql):
        ch, nxt = sql[i], sql[i + 1 : i + 2]
        if ch in "eE" and nxt == "'" and not (i and (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            value, i = _literal(sql, i + 1, escapes=True)
        elif ch == "'":
            value, i = _literal(sql, i, escapes=False)
        elif ch == '"':
            end = sql.find('"', i + 1)
            while end >= 0 and sql[end + 1 : end + 2] == '"':
                end = sql.find('"', end + 2)
            if end < 0:
                raise bad("unterminated quoted identifier")
            out.append(sql[i : end + 1])
            i = end + 1
            continue
        elif ch == "-" and nxt == "-":
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end + 1
            out.append(" ")
            continue
        elif ch == "/" and nxt == "*":
            end = sql.find("*/", i + 2)
            if end < 0:
                raise bad("unterminated comment")
            i = end + 2
            out.append(" ")
            continue
        elif ch == "$":
            raise bad("dollar quoting is not supported by the fake")
        elif ch == ";":
            statements.append("".join(out))
            out, i = [], i + 1
            continue
        else:
            out.append(ch)
            i += 1
            continue
        literals.append(value)
        out.append("'" + value.replace("'", "''") + "'")
    statements.append("".join(out))
    return [s for s in statements if s.strip()], literals


def _literal(sql: str, i: int, *, escapes: bool) -> tuple[str, int]:
    chars, j = [], i + 1
    while j < len(sql):
        ch = sql[j]
        if escapes and ch == "\\" and j + 1 < len(sql):
            chars.append({"n": "\n", "t": "\t", "r": "\r"}.get(sql[j + 1], sql[j + 1]))
            j += 2
        elif ch == "'" and sql[j + 1 : j + 2] == "'":
            chars.append("'")
            j += 2
        elif ch == "'":
            return "".join(chars), j + 1
        else:
            chars.append(ch)
            j += 1
    raise bad("unterminated string literal")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def run_sql(ws: dict[str, Any], sql: str) -> str:
    """Run one statement against ``ws`` (table name → table); a query's rows as JSON, else ""."""
    statements, _ = split_sql(sql)
    if len(statements) != 1:
        raise bad(f"exactly one SQL statement expected, got {len(statements)}")
    db = sqlite3.connect(":memory:")
    try:
        for name, table in ws.items():
            cols = [c["name"] for c in table["columns"]]
            defs = ", ".join(
                f"{_ident(c)} INTEGER PRIMARY KEY" if c == "_id" else _ident(c) for c in cols
            )
            db.execute(f"CREATE TABLE {_ident(name)} ({defs})")
            marks = ", ".join("?" for _ in cols)
            db.executemany(
                f"INSERT INTO {_ident(name)} VALUES ({marks})",  # noqa: S608  # nosec B608 - quoted
                [[r.get(c) for c in cols] for r in table["rows"]],
            )
        try:
            cur = db.execute(statements[0])
        except sqlite3.Error as exc:
            raise bad(f"sql error: {exc}") from None
        if cur.description is not None:
            names = [d[0] for d in cur.description]
            return msgspec.json.encode([dict(zip(names, r, strict=True)) for r in cur]).decode()
        for name, table in ws.items():
            cols = [c["name"] for c in table["columns"]]
            got = db.execute(f'SELECT * FROM {_ident(name)} ORDER BY "_id"').fetchall()  # noqa: S608  # nosec B608
            table["rows"] = [dict(zip(cols, r, strict=True)) for r in got]
            table["next_id"] = max([table["next_id"], *(r["_id"] + 1 for r in table["rows"])])
        return ""
    finally:
        db.close()
