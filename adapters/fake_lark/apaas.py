"""Fake aPaaS workspace data tables under ``/open-apis/apaas/v1/workspaces/:workspace_id``.

Seed with `add_table` (a ``_id`` bigint primary key is added and assigned on insert);
`rows` reads a table back; `deny_app` flips an app's scope switch (99991672, HTTP 403).
Only user tokens are accepted: a tenant token answers 99991668 ("user access token
required"), via `FakeLark.require_token`.

Wire shapes follow lark-oapi's models: rows travel as JSON *strings* (``items`` in query
replies, ``records``/``record`` in bodies); writes reply ``{record_ids}``; ``sql_commands``
replies ``{result: "<string>"}``.

The fake's subset of the PostgREST-like grammar (the real grammar is UNCONFIRMED):
``filter`` is one or more ``col=op.value`` joined by ``&`` (all must hold), ``op`` one of
eq, neq, gt, gte, lt, lte, ``in.(a,b)``; ``select`` and ``columns`` are comma-separated
column names; ``order`` is ``col[.asc|.desc]`` items joined by commas; ``on_conflict`` names
the unique column(s) of an upsert. Numbers compare numerically on numeric columns.

``sql_commands`` proves that bound values arrive as data: a small tokenizer splits the SQL
into string literals (``'…'`` with ``''`` doubling, ``E'…'`` with backslash escapes), quoted
identifiers, comments and code; more than one statement is refused, ``E''`` literals are
rewritten as standard ones, and the statement runs in an in-memory ``sqlite3`` mirror of the
workspace whose changes are copied back. A query's ``result`` is the JSON array of its rows,
other statements give ``""``. Dollar quoting and arrays are not supported by the fake.

Choices where Lark's docs are silent: errors are HTTP 400 code 99992402 (field validation
failed) for bad parameters or SQL, HTTP 404 code 1000404 for an unknown workspace or table;
page_size up to 500 (tables: 100), page tokens are opaque offsets ``pt_<n>``; at most 500 rows
per write.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from adapters.fake_lark.models import FakeLarkError, FakeRequest
from adapters.fake_lark.server import FakeLark, HandlerResult

W = "/open-apis/apaas/v1/workspaces/{workspace_id}"
R = W + "/tables/{table_name}/records"
NUMERIC = frozenset(
    {"bigint", "integer", "int", "smallint", "float", "double", "decimal", "numeric"}
)
OPS = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "in"})
WRITE_MAX = 500


def bad(msg: str) -> FakeLarkError:
    return FakeLarkError(400, 99992402, f"field validation failed: {msg}")


def _state(fake: FakeLark) -> dict[str, Any]:
    state: dict[str, Any] = fake.state.setdefault("apaas", {"workspaces": {}, "denied": set()})
    return state


def add_table(
    fake: FakeLark,
    workspace_id: str,
    name: str,
    columns: dict[str, str],
    *,
    unique: tuple[str, ...] = (),
    rows: list[dict[str, Any]] | None = None,
) -> None:
    """A table with ``_id`` plus ``columns`` (name → data_type), optionally seeded."""
    cols = [{"name": "_id", "data_type": "bigint", "is_primary_key": True, "is_unique": True}]
    cols[0] |= {"is_auto_increment": True, "is_allow_null": False}
    for cname, dtype in columns.items():
        cols.append({"name": cname, "data_type": dtype, "is_unique": cname in unique})
    table = {"name": name, "description": "", "columns": cols, "rows": [], "next_id": 1}
    _state(fake)["workspaces"].setdefault(workspace_id, {})[name] = table
    for row in rows or []:
        _insert(table, row)


def rows(fake: FakeLark, workspace_id: str, name: str) -> list[dict[str, Any]]:
    return list(_state(fake)["workspaces"][workspace_id][name]["rows"])


def deny_app(fake: FakeLark, app_id: str, denied: bool = True) -> None:
    (_state(fake)["denied"].add if denied else _state(fake)["denied"].discard)(app_id)


def _insert(table: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    new = {c["name"]: None for c in table["columns"]} | row
    if new.get("_id") is None:
        new["_id"] = table["next_id"]
    table["next_id"] = max(table["next_id"], int(new["_id"])) + 1
    table["rows"].append(new)
    return new


def _types(table: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["data_type"] for c in table["columns"]}


def _cast(dtype: str, raw: str) -> Any:
    if dtype not in NUMERIC:
        return raw
    try:
        return float(raw)
    except ValueError:
        raise bad(f"{raw!r} is not a number") from None


def _matcher(table: dict[str, Any], expr: str | None) -> Any:
    types, conds = _types(table), []
    for part in (expr or "").split("&") if expr else []:
        col, eq, rest = part.partition("=")
        op, dot, raw = rest.partition(".")
        if not eq or not dot or op not in OPS or col not in types:
            raise bad(f"filter {part!r}")
        if op == "in":
            if not (raw.startswith("(") and raw.endswith(")")):
                raise bad(f"filter {part!r}")
            conds.append((col, op, [_cast(types[col], v) for v in raw[1:-1].split(",")]))
        else:
            conds.append((col, op, _cast(types[col], raw)))

    def match(row: dict[str, Any]) -> bool:
        for col, op, want in conds:
            v = row.get(col)
            v = float(v) if v is not None and types[col] in NUMERIC else v
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


def _columns(table: dict[str, Any], spec: str | None) -> list[str] | None:
    if not spec:
        return None
    names = [c.strip() for c in spec.split(",")]
    for n in names:
        if n not in _types(table):
            raise bad(f"unknown column {n!r}")
    return names


def _decode_rows(raw: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(raw, str):
        raise bad(f"{key} must be a JSON string")
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise bad(f"{key} is not valid JSON") from None
    value = [value] if key == "record" else value
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise bad(f"{key} must hold a list of objects")
    if len(value) > WRITE_MAX:
        raise bad(f"at most {WRITE_MAX} records per request")
    return value


def _page(req: FakeRequest, items: list[Any], maximum: int) -> tuple[list[Any], dict[str, Any]]:
    size = req.query.get("page_size") or "20"
    token = req.query.get("page_token") or "pt_0"
    if not size.isdigit() or not 1 <= int(size) <= maximum:
        raise bad(f"page_size must be from 1 to {maximum}")
    if not token.startswith("pt_") or not token[3:].isdigit():
        raise bad("page_token")
    start = int(token[3:])
    end = start + int(size)
    more = end < len(items)
    return items[start:end], {"has_more": more, "page_token": f"pt_{end}" if more else ""}


def register(fake: FakeLark) -> None:
    """Register the aPaaS workspace routes on ``fake``."""
    fake.on_reset(lambda: fake.state.pop("apaas", None))

    def begin(req: FakeRequest) -> dict[str, Any]:
        token = fake.require_token(req, kinds=("user",))
        state = _state(fake)
        if token.app_id in state["denied"]:
            raise FakeLarkError(
                403, 99991672, "Access denied. One of the following scopes is required: [apaas]"
            )
        ws: dict[str, Any] | None = state["workspaces"].get(req.path_params["workspace_id"])
        if ws is None:
            raise FakeLarkError(404, 1000404, "workspace not found")
        if "table_name" not in req.path_params:
            return ws
        table: dict[str, Any] | None = ws.get(req.path_params["table_name"])
        if table is None:
            raise FakeLarkError(404, 1000404, "table not found")
        return table

    def schema(table: dict[str, Any]) -> dict[str, Any]:
        return {k: table[k] for k in ("name", "description", "columns")}

    def body(req: FakeRequest) -> dict[str, Any]:
        value = req.json()
        if not isinstance(value, dict):
            raise bad("body must be an object")
        return value

    def check_cols(table: dict[str, Any], row: dict[str, Any], allowed: list[str] | None) -> None:
        for col in row:
            if col not in _types(table) or (allowed is not None and col not in allowed):
                raise bad(f"unknown column {col!r}")

    @fake.route("GET", W + "/tables")
    async def list_tables(req: FakeRequest) -> HandlerResult:
        page, meta = _page(req, [schema(t) for t in begin(req).values()], 100)
        return {"items": page} | meta

    @fake.route("GET", W + "/tables/{table_name}")
    async def get_table(req: FakeRequest) -> HandlerResult:
        return schema(begin(req))

    @fake.route("GET", R)
    async def query(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        found = [r for r in table["rows"] if _matcher(table, req.query.get("filter"))(r)]
        for spec in reversed((req.query.get("order") or "").split(",")):
            if not spec:
                continue
            col, _, direction = spec.partition(".")
            if col not in _types(table) or direction not in ("", "asc", "desc"):
                raise bad(f"order {spec!r}")
            found.sort(key=lambda r: (r[col] is not None, r[col]), reverse=direction == "desc")
        cols = _columns(table, req.query.get("select"))
        if cols is not None:
            found = [{c: r[c] for c in cols} for r in found]
        page, meta = _page(req, found, 500)
        return {"items": msgspec.json.encode(page).decode(), "total": len(found)} | meta

    @fake.route("POST", R)
    async def insert(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        new = _decode_rows(body(req).get("records"), "records")
        allowed = _columns(table, req.query.get("columns"))
        keys = _columns(table, req.query.get("on_conflict"))
        for row in new:
            check_cols(table, row, allowed)
        ids = []
        for row in new:
            same = [r for r in table["rows"] if keys and all(r[k] == row.get(k) for k in keys)]
            if same:
                same[0].update(row)
                ids.append(str(same[0]["_id"]))
            else:
                ids.append(str(_insert(table, row)["_id"]))
        return {"record_ids": ids}

    @fake.route("PATCH", R)
    async def update(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        if not req.query.get("filter"):
            raise bad("filter is required")
        match = _matcher(table, req.query.get("filter"))
        (change,) = _decode_rows(body(req).get("record"), "record")
        check_cols(table, change, None)
        hit = [r for r in table["rows"] if match(r)]
        for r in hit:
            r.update(change)
        return {"record_ids": [str(r["_id"]) for r in hit]}

    @fake.route("PATCH", W + "/tables/{table_name}/records_batch_update")
    async def batch_update(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        changes = _decode_rows(body(req).get("records"), "records")
        by_id = {str(r["_id"]): r for r in table["rows"]}
        for change in changes:
            check_cols(table, change, None)
            if str(change.get("_id")) not in by_id:
                raise bad(f"no record with _id {change.get('_id')!r}")
        for change in changes:
            by_id[str(change["_id"])].update(change)
        return {"record_ids": [str(c["_id"]) for c in changes]}

    @fake.route("DELETE", R)
    async def delete(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        if not req.query.get("filter"):
            raise bad("filter is required")
        match = _matcher(table, req.query.get("filter"))
        table["rows"] = [r for r in table["rows"] if not match(r)]
        return {}

    @fake.route("POST", W + "/sql_commands")
    async def sql_commands(req: FakeRequest) -> HandlerResult:
        ws = begin(req)
        sql = body(req).get("sql")
        if not isinstance(sql, str) or not sql.strip():
            raise bad("sql is required")
        return {"result": run_sql(ws, sql)}


def split_sql(sql: str) -> tuple[list[str], list[str]]:
    """``(statements, literals)``: statements rewritten for sqlite (E'' → '', comments
    dropped), and every string literal's decoded value. Raises `FakeLarkError` on bad SQL."""
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
