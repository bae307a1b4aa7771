"""Fake Bitable (Base): apps, tables, fields and records under ``/open-apis/bitable/v1/apps``.

Seed state with `add_table` / `add_records`; `deny_app` flips an app's scope switch so every
call answers 99991672 (HTTP 403). Tenant and user tokens are both accepted.

Lark's error codes (bitable-v1 error tables, DOC; all HTTP 400): 1254040 app_token not found,
1254041 table not found, 1254043 record not found, 1254045 field name not found (also for
``field_names``, filter and sort fields), 1254060 / 1254061 text / number value of the wrong
type, 1254011 bad page_size, 1254030 bad page_token, 1254018 bad filter, 1254016 bad sort,
1254104 too many records in one request (create/update 1,000; delete 500).

Choices where Lark's docs are silent: page_size above 500 is rejected with 1254011 rather
than clamped; tables and fields pages hold at most 100; page tokens are opaque offsets
(``pt_<n>``); values are stored and returned as written (text is not turned into Lark's rich
``[{"type":"text","text"}]`` form); search compares number fields (type 2) numerically and
others as text; ``list_records``' formula ``filter`` and ``sort`` strings are accepted but not
evaluated. A repeated ``client_token`` on create / batch_create returns the first reply and
writes nothing.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

import msgspec

from lark_service.testing.fake_lark.bitable_search import err as _err
from lark_service.testing.fake_lark.bitable_search import evaluate, project, sort_records
from lark_service.testing.fake_lark.models import FakeRequest
from lark_service.testing.fake_lark.server import FakeLark, HandlerResult

A = "/open-apis/bitable/v1/apps/{app_token}"
T = A + "/tables/{table_id}"
LIMITS = {"batch_create": 1000, "batch_update": 1000, "batch_delete": 500, "batch_get": 100}
_ids = itertools.count(1)


def _state(fake: FakeLark) -> dict[str, Any]:
    state: dict[str, Any] = fake.state.setdefault(
        "bitable", {"apps": {}, "denied": set(), "client_tokens": {}}
    )
    return state


def add_table(
    fake: FakeLark, app_token: str, name: str, fields: dict[str, int], *, table_id: str = ""
) -> str:
    """Create a table with ``fields`` (name → Lark type code; the first is primary)."""
    table_id = table_id or f"tbl{secrets.token_hex(8)}"
    tables = _state(fake)["apps"].setdefault(app_token, {})
    tables[table_id] = {
        "table_id": table_id,
        "name": name,
        "revision": 1,
        "fields": {
            fname: {"field_id": f"fld{n:06d}", "field_name": fname, "type": ftype}
            | {"is_primary": n == 0, "ui_type": "Number" if ftype == 2 else "Text"}
            for n, (fname, ftype) in enumerate(fields.items())
        },
        "records": {},
    }
    return table_id


def add_records(
    fake: FakeLark, app_token: str, table_id: str, rows: list[dict[str, Any]]
) -> list[str]:
    """Insert rows directly (no validation); their record_ids."""
    table = _state(fake)["apps"][app_token][table_id]
    return [_insert(fake, table, row)["record_id"] for row in rows]


def records(fake: FakeLark, app_token: str, table_id: str) -> list[dict[str, Any]]:
    """The stored records of a table, in insertion order."""
    return list(_state(fake)["apps"][app_token][table_id]["records"].values())


def deny_app(fake: FakeLark, app_id: str, denied: bool = True) -> None:
    """Make every Bitable call of ``app_id`` answer 99991672 (scope missing)."""
    (_state(fake)["denied"].add if denied else _state(fake)["denied"].discard)(app_id)


def _insert(fake: FakeLark, table: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    now = int(fake.now() * 1000)
    rid = f"rec{next(_ids):010d}"
    rec = {"record_id": rid, "fields": dict(fields), "created_time": now}
    rec |= {"last_modified_time": now, "record_url": f"https://fake-lark.invalid/record/{rid}"}
    table["records"][rid] = rec
    return rec


def _check_fields(table: dict[str, Any], fields: Any) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise _err(1254001, "WrongRequestBody: fields must be an object")
    for name, value in fields.items():
        field = table["fields"].get(name)
        if field is None:
            raise _err(1254045, f"FieldNameNotFound: {name}")
        if value is None:
            continue
        if field["type"] == 2 and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _err(1254061, f"NumberFieldConvFail: {name}")
        if field["type"] == 1 and not isinstance(value, str | list):
            raise _err(1254060, f"TextFieldConvFail: {name}")
    return fields


def _page(req: FakeRequest, items: list[Any], maximum: int, default: int) -> dict[str, Any]:
    raw_size = req.query.get("page_size") or str(default)
    if not raw_size.isdigit() or not 1 <= int(raw_size) <= maximum:
        raise _err(1254011, f"page_size must be from 1 to {maximum}")
    token = req.query.get("page_token") or "pt_0"
    if not token.startswith("pt_") or not token[3:].isdigit():
        raise _err(1254030, "InvalidPageToken")
    start, size = int(token[3:]), int(raw_size)
    end = start + size
    has_more = end < len(items)
    out = {"items": items[start:end], "has_more": has_more, "total": len(items)}
    out["page_token"] = f"pt_{end}" if has_more else ""
    return out


def register(fake: FakeLark) -> None:
    """Register the Bitable routes on ``fake``."""
    fake.on_reset(lambda: fake.state.pop("bitable", None))

    def begin(req: FakeRequest) -> dict[str, Any]:
        token = fake.require_token(req, kinds=("tenant", "user"))
        state = _state(fake)
        if token.app_id in state["denied"]:
            raise _err(
                99991672,
                "Access denied. One of the following scopes is required: [bitable:app].",
                403,
            )
        tables = state["apps"].get(req.path_params["app_token"])
        if tables is None:
            raise _err(1254040, "BaseTokenNotFound")
        if "table_id" not in req.path_params:
            return {"tables": tables}
        table: dict[str, Any] | None = tables.get(req.path_params["table_id"])
        if table is None:
            raise _err(1254041, "TableIdNotFound")
        return table

    def record_of(table: dict[str, Any], rid: Any) -> dict[str, Any]:
        rec: dict[str, Any] | None = table["records"].get(rid) if isinstance(rid, str) else None
        if rec is None:
            raise _err(1254043, "RecordIdNotFound")
        return rec

    def body_list(req: FakeRequest, key: str, limit: str) -> list[Any]:
        items = req.json().get(key) if isinstance(req.json(), dict) else None
        if not isinstance(items, list) or not items:
            raise _err(1254001, f"WrongRequestBody: {key} must be a non-empty list")
        if len(items) > LIMITS[limit]:
            raise _err(1254104, f"RecordAddOnceExceedLimit, limited to {LIMITS[limit]}")
        return items

    def dedup(req: FakeRequest, table: dict[str, Any]) -> tuple[tuple[str, ...] | None, Any]:
        ct = req.query.get("client_token")
        if ct is None:
            return None, None
        key = (req.path_params["app_token"], table["table_id"], req.path, ct)
        return key, _state(fake)["client_tokens"].get(key)

    def remember(key: tuple[str, ...] | None, reply: dict[str, Any]) -> dict[str, Any]:
        """Keep a create's reply for a repeat of its ``client_token``."""
        if key is not None:
            _state(fake)["client_tokens"][key] = reply
        return reply

    @fake.route("GET", A + "/tables")
    async def list_tables(req: FakeRequest) -> HandlerResult:
        tables = begin(req)["tables"].values()
        items = [{k: t[k] for k in ("table_id", "name", "revision")} for t in tables]
        return _page(req, items, 100, 20)

    @fake.route("GET", T + "/fields")
    async def list_fields(req: FakeRequest) -> HandlerResult:
        return _page(req, list(begin(req)["fields"].values()), 100, 20)

    @fake.route("GET", T + "/records")
    async def list_records(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        names = req.query.get("field_names")
        try:
            wanted = None if names is None else msgspec.json.decode(names)
        except msgspec.DecodeError:
            raise _err(1254024, "InvalidFieldNames") from None
        if wanted is not None and not isinstance(wanted, list):
            raise _err(1254024, "InvalidFieldNames")
        for name in wanted or []:
            if name not in table["fields"]:
                raise _err(1254045, f"FieldNameNotFound: {name}")
        items = [project(r, wanted, True) for r in table["records"].values()]
        return _page(req, items, 500, 20)

    @fake.route("POST", T + "/records/search")
    async def search(req: FakeRequest) -> HandlerResult:
        table, body = begin(req), req.json()
        if not isinstance(body, dict):
            raise _err(1254000, "WrongRequestJson")
        items = list(table["records"].values())
        if body.get("filter") is not None:
            items = [r for r in items if evaluate(table, body["filter"], r["fields"])]
        if body.get("sort"):
            items = sort_records(table, items, body["sort"])
        names = body.get("field_names")
        for name in names or []:
            if name not in table["fields"]:
                raise _err(1254045, f"FieldNameNotFound: {name}")
        auto = bool(body.get("automatic_fields"))
        return _page(req, [project(r, names, auto) for r in items], 500, 20)

    @fake.route("GET", T + "/records/{record_id}")
    async def get_record(req: FakeRequest) -> HandlerResult:
        return {"record": record_of(begin(req), req.path_params["record_id"])}

    @fake.route("POST", T + "/records/batch_get")
    async def batch_get(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        ids = body_list(req, "record_ids", "batch_get")
        found = [table["records"][i] for i in ids if i in table["records"]]
        absent = [i for i in ids if i not in table["records"]]
        return {"records": found, "absent_record_ids": absent, "forbidden_record_ids": []}

    @fake.route("POST", T + "/records")
    async def create(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        key, seen = dedup(req, table)
        if seen is not None:
            return seen  # type: ignore[no-any-return]
        body = req.json()
        fields = _check_fields(table, body.get("fields") if isinstance(body, dict) else None)
        return remember(key, {"record": _insert(fake, table, fields)})

    @fake.route("PUT", T + "/records/{record_id}")
    async def update(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        rec = record_of(table, req.path_params["record_id"])
        body = req.json()
        rec["fields"].update(
            _check_fields(table, body.get("fields") if isinstance(body, dict) else None)
        )
        rec["last_modified_time"] = int(fake.now() * 1000)
        return {"record": rec}

    @fake.route("DELETE", T + "/records/{record_id}")
    async def delete(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        rid = record_of(table, req.path_params["record_id"])["record_id"]
        del table["records"][rid]
        return {"deleted": True, "record_id": rid}

    @fake.route("POST", T + "/records/batch_create")
    async def batch_create(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        key, seen = dedup(req, table)
        if seen is not None:
            return seen  # type: ignore[no-any-return]
        items = body_list(req, "records", "batch_create")
        # validate everything first: Lark writes a batch all-or-nothing
        checked = [
            _check_fields(table, r.get("fields") if isinstance(r, dict) else None) for r in items
        ]
        return remember(key, {"records": [_insert(fake, table, f) for f in checked]})

    @fake.route("POST", T + "/records/batch_update")
    async def batch_update(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        items = body_list(req, "records", "batch_update")
        plan = []
        for item in items:
            if not isinstance(item, dict):
                raise _err(1254001, "WrongRequestBody")
            plan.append(
                (record_of(table, item.get("record_id")), _check_fields(table, item.get("fields")))
            )
        now = int(fake.now() * 1000)
        for rec, fields in plan:
            rec["fields"].update(fields)
            rec["last_modified_time"] = now
        return {"records": [rec for rec, _ in plan]}

    @fake.route("POST", T + "/records/batch_delete")
    async def batch_delete(req: FakeRequest) -> HandlerResult:
        table = begin(req)
        ids = body_list(req, "records", "batch_delete")
        for rid in ids:
            record_of(table, rid)
        for rid in ids:
            table["records"].pop(rid, None)
        return {"records": [{"deleted": True, "record_id": rid} for rid in ids]}
