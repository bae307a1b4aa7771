"""Fake aPaaS workspace data tables under ``/open-apis/apaas/v1/workspaces/:workspace_id``.

Seed with `add_table` (a ``_id`` bigint primary key is added and assigned on insert);
`rows` reads a table back; `deny_app` flips an app's scope switch (99991672, HTTP 403).
Only user tokens are accepted: a tenant token answers 99991668 ("user access token
required"), via `FakeLark.require_token`.

Wire shapes follow lark-oapi's models: rows travel as JSON *strings* (``items`` in query
replies, ``records``/``record`` in bodies); writes reply ``{record_ids}``; ``sql_commands``
replies ``{result: "<string>"}``.

The fake's subset of the PostgREST-like grammar (the real grammar is UNCONFIRMED) and its
``sql_commands`` (an ``sqlite3`` mirror that proves bound values arrive as data) are in
`lark_service.testing.workspace_sql`; ``split_sql``, ``run_sql`` and ``bad`` are re-exported
here.

Choices where Lark's docs are silent: errors are HTTP 400 code 99992402 (field validation
failed) for bad parameters or SQL, HTTP 404 code 1000404 for an unknown workspace or table;
page_size up to 500 (tables: 100), page tokens are opaque offsets ``pt_<n>``; at most 500 rows
per write.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import msgspec

from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest
from lark_service.testing.fake_lark.server import FakeLark, Handler, HandlerResult
from lark_service.testing.workspace_sql import (
    WRITE_MAX,
    WorkspaceTableError,
    bad,
    check_row,
    columns,
    make_table,
    matcher,
    not_found,
    order_rows,
    run_sql,
    split_sql,
    upsert,
)

__all__ = ["add_table", "bad", "deny_app", "register", "rows", "run_sql", "split_sql"]

W = "/open-apis/apaas/v1/workspaces/{workspace_id}"
R = W + "/tables/{table_name}/records"


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
    table = make_table(name, columns, unique=unique, rows=rows)
    _state(fake)["workspaces"].setdefault(workspace_id, {})[name] = table


def rows(fake: FakeLark, workspace_id: str, name: str) -> list[dict[str, Any]]:
    return list(_state(fake)["workspaces"][workspace_id][name]["rows"])


def deny_app(fake: FakeLark, app_id: str, denied: bool = True) -> None:
    (_state(fake)["denied"].add if denied else _state(fake)["denied"].discard)(app_id)


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


def _lark_errors(handler: Handler) -> Handler:
    """``handler`` answering a `WorkspaceTableError` with Lark's error envelope."""

    @functools.wraps(handler)
    async def run(req: FakeRequest) -> HandlerResult:
        try:
            return await handler(req)
        except WorkspaceTableError as exc:
            raise FakeLarkError(exc.http_status, exc.code, exc.msg) from None

    return run


def register(fake: FakeLark) -> None:
    """Register the aPaaS workspace routes on ``fake``."""
    fake.on_reset(lambda: fake.state.pop("apaas", None))

    def route(method: str, path: str) -> Callable[[Handler], Handler]:
        return lambda handler: fake.route(method, path)(_lark_errors(handler))

    def begin(req: FakeRequest) -> dict[str, Any]:
        token = fake.require_token(req, kinds=("user",))
        state = _state(fake)
        if token.app_id in state["denied"]:
            raise FakeLarkError(
                403, 99991672, "Access denied. One of the following scopes is required: [apaas]"
            )
        ws: dict[str, Any] | None = state["workspaces"].get(req.path_params["workspace_id"])
        if ws is None:
            raise not_found("workspace not found")
        if "table_name" not in req.path_params:
            return ws
        table: dict[str, Any] | None = ws.get(req.path_params["table_name"])
        if table is None:
            raise not_found("table not found")
        return table

    def schema(table: dict[str, Any]) -> dict[str, Any]:
        return {k: table[k] for k in ("name", "description", "columns")}

    def body(req: FakeRequest) -> dict[str, Any]:
        value = req.json()
        if not isinstance(value, dict):
            raise bad("body must be an object")
        return value

    def filtered(req: FakeRequest) -> tuple[dict[str, Any], Any]:
        """The table and the predicate of a write's required ``filter``."""
        table = begin(req)
        if not req.query.get("filter"):
            raise bad("filter is required")
        return table, matcher(table, req.query.get("filter"))

    @route("GET", W + "/tables")
    async def list_tables(req: FakeRequest) -> HandlerResult:
        page, meta = _page(req, [schema(t) for t in begin(req).values()], 100)
        return {"items": page} | meta

    @route("GET", W + "/tables/{table_name}")
    async def get_table(req: FakeRequest) -> HandlerResult:
        return schema(begin(req))

    @route("GET", R)
    async def query(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        found = [r for r in table["rows"] if matcher(table, req.query.get("filter"))(r)]
        order_rows(table, found, req.query.get("order"))
        cols = columns(table, req.query.get("select"))
        if cols is not None:
            found = [{c: r[c] for c in cols} for r in found]
        page, meta = _page(req, found, 500)
        return {"items": msgspec.json.encode(page).decode(), "total": len(found)} | meta

    @route("POST", R)
    async def insert(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        new = _decode_rows(body(req).get("records"), "records")
        allowed = columns(table, req.query.get("columns"))
        keys = columns(table, req.query.get("on_conflict"))
        for row in new:
            check_row(table, row, allowed)
        return {"record_ids": upsert(table, new, keys)}

    @route("PATCH", R)
    async def update(req: FakeRequest) -> HandlerResult:
        table, match = filtered(req)
        (change,) = _decode_rows(body(req).get("record"), "record")
        check_row(table, change, None)
        hit = [r for r in table["rows"] if match(r)]
        for r in hit:
            r.update(change)
        return {"record_ids": [str(r["_id"]) for r in hit]}

    @route("PATCH", W + "/tables/{table_name}/records_batch_update")
    async def batch_update(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        changes = _decode_rows(body(req).get("records"), "records")
        by_id = {str(r["_id"]): r for r in table["rows"]}
        for change in changes:
            check_row(table, change, None)
            if str(change.get("_id")) not in by_id:
                raise bad(f"no record with _id {change.get('_id')!r}")
        for change in changes:
            by_id[str(change["_id"])].update(change)
        return {"record_ids": [str(c["_id"]) for c in changes]}

    @route("DELETE", R)
    async def delete(req: FakeRequest) -> HandlerResult:
        table, match = filtered(req)
        table["rows"] = [r for r in table["rows"] if not match(r)]
        return {}

    @route("POST", W + "/sql_commands")
    async def sql_commands(req: FakeRequest) -> HandlerResult:
        ws = begin(req)
        sql = body(req).get("sql")
        if not isinstance(sql, str) or not sql.strip():
            raise bad("sql is required")
        return {"result": run_sql(ws, sql)}
