"""Control endpoints that seed a fake running in another process with what the Python API
seeds in process (ours, not Lark's; same envelope and rules as ``control.py``):

    POST /_fake/contact/departments  {app_id, parent_id?="0", name?} -> department record
    POST /_fake/contact/users        {app_id, department_id?="0", count?=1, ...fields}
                                     -> {items: [user records]}
    POST /_fake/contact/chats        {app_id, chat_id?, name?, description?, members?,
                                      owner_id?, bot_in_chat?, chat_mode?, chat_type?}
                                     -> chat record
    POST /_fake/contact/hide_fields  {app_id, names: [...]}
    POST /_fake/scopes               {app_id, area, denied?=true}   area: contact, im,
                                     drive, docx, sheets, bitable, apaas
    POST /_fake/im/bot_not_in_chat   {app_id, chat_id, value?=true}
    POST /_fake/im/rate_scale        {scale}   (0 turns the im frequency limits off)
    POST /_fake/bitable/tables       {app_token, name, fields: {name: type}, table_id?,
                                      records?: [fields]} -> {table_id, record_ids}
    GET  /_fake/bitable/records      ?app_token&table_id -> {items}
    POST /_fake/apaas/tables         {workspace_id, name, columns: {name: data_type},
                                      unique?: [...], rows?: [...]}
    GET  /_fake/apaas/rows           ?workspace_id&name -> {items}
    POST /_fake/sheets               {app_id, title?, sheet_ids?} -> {spreadsheet_token}
    POST /_fake/user_tokens          {app_id, user_id, expires_in?, refresh_expires_in?,
                                      scope?} -> the token reply
    POST /_fake/auth_codes           {app_id, user_id, code, redirect_uri?, scope?}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lark_service.testing.fake_lark import apaas, bitable, contact_directory, drive_state, sheets
from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest
from lark_service.testing.fake_lark.server import FakeLark, HandlerResult
from lark_service.testing.fake_lark.wire import Handler

_CHAT_OPTIONS = (
    "chat_id",
    "name",
    "description",
    "members",
    "owner_id",
    "bot_in_chat",
    "chat_mode",
    "chat_type",
)


def _bad(msg: str) -> FakeLarkError:
    return FakeLarkError(400, 9499, f"Bad Request: {msg}")


def _body(req: FakeRequest) -> dict[str, Any]:
    body = req.json() if req.body else {}
    if not isinstance(body, dict):
        raise _bad("expected a JSON object")
    return body


def _str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _bad(f"{name} is required")
    return value


def _app(fake: FakeLark, body: dict[str, Any]) -> str:
    app_id = _str(body, "app_id")
    if app_id not in fake.apps:
        raise _bad(f"unknown app {app_id}")
    return app_id


def _mapping(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict) or not value:
        raise _bad(f"{name} must be a non-empty object")
    return value


def _query(req: FakeRequest, name: str) -> str:
    value = req.query.get(name)
    if not value:
        raise _bad(f"{name} is required")
    return value


def _seeding(handler: Handler) -> Handler:
    """Bad values the seeding functions reject (KeyError, ValueError, TypeError) → 9499."""

    async def wrapped(req: FakeRequest) -> HandlerResult:
        try:
            result: HandlerResult = await handler(req)
        except (KeyError, ValueError, TypeError) as exc:
            raise _bad(str(exc).strip("'\"")) from None
        return result

    return wrapped


def _deny(fake: FakeLark, app_id: str, area: str, denied: bool) -> None:
    if area in ("contact", "im"):
        contact_directory.deny_scope(fake, app_id, area, denied)
        if area == "im":
            apps: set[str] = fake.state.setdefault("im_denied_apps", set())
            (apps.add if denied else apps.discard)(app_id)
    elif area in ("drive", "docx", "sheets"):
        drive_state.deny_scope(fake, app_id, area, denied)
    elif area == "bitable":
        bitable.deny_app(fake, app_id, denied)
    elif area == "apaas":
        apaas.deny_app(fake, app_id, denied)
    else:
        raise _bad(f"unknown area {area}")


def register(fake: FakeLark) -> None:
    def post(path: str) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            fake.add_route("POST", path, _seeding(handler))
            return handler

        return decorate

    def get(path: str) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            fake.add_route("GET", path, _seeding(handler))
            return handler

        return decorate

    @post("/_fake/contact/departments")
    async def departments(req: FakeRequest) -> HandlerResult:
        body = _body(req)
        return contact_directory.add_department(
            fake,
            _app(fake, body),
            str(body.get("parent_id", contact_directory.ROOT)),
            name=str(body.get("name", "Department")),
        )

    @post("/_fake/contact/users")
    async def users(req: FakeRequest) -> HandlerResult:
        body = _body(req)
        app_id = _app(fake, body)
        department = str(body.pop("department_id", contact_directory.ROOT))
        count = body.pop("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise _bad("count must be a positive integer")
        fields = {k: v for k, v in body.items() if k != "app_id"}
        if count == 1:
            items = [contact_directory.add_user(fake, app_id, department, **fields)]
        elif fields:
            raise _bad("user fields need count 1")
        else:
            items = contact_directory.add_users(fake, app_id, department, count)
        return {"items": items}

    @post("/_fake/contact/chats")
    async def chats(req: FakeRequest) -> HandlerResult:
        body = _body(req)
        app_id = _app(fake, body)
        unknown = set(body) - {"app_id", *_CHAT_OPTIONS}
        if unknown:
            raise _bad(f"unknown chat options {sorted(unknown)}")
        options = {k: v for k, v in body.items() if k != "app_id"}
        return contact_directory.add_chat(fake, app_id, **options)

    @post("/_fake/contact/hide_fields")
    async def hide(req: FakeRequest) -> HandlerResult:
        body = _body(req)
        names = body.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _bad("names must be a list of field names")
        contact_directory.hide_fields(fake, _app(fake, body), *names)
        return {}

    @post("/_fake/scopes")
    async def scopes(req: FakeRequest) -> HandlerResult:
        body = _body(req)
        _deny(fake, _app(fake, body), _str(body, "area"), bool(body.get("denied", True)))
        return {}

    @post("/_fake/im/bot_not_in_chat")
    async def not_in_chat(req: FakeRequest) -> HandlerResult:
        body = _body(req)
        pairs: set[tuple[str, str]] = fake.state.setdefault("im_bot_not_in_chat", set())
        pair = (_app(fake, body), _str(body, "chat_id"))
        (pairs.add if body.get("value", True) else pairs.discard)(pair)
        return {}

    @post("/_fake/im/rate_scale")
    async def rate_scale(req: FakeRequest) -> HandlerResult:
        scale = _body(req).get("scale")
        if not isinstance(scale, int | float) or isinstance(scale, bool) or scale < 0:
            raise _bad("scale must be a number >= 0")
        fake.state["im_rate_scale"] = float(scale)
        return {}

    @post("/_fake/bitable/tables")
    async def bitable_tables(req: FakeRequest) -> HandlerResult:
        body = _body(req)
        app_token = _str(body, "app_token")
        fields = _mapping(body, "fields")
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in fields.values()):
            raise _bad("fields maps names to Lark field type codes (integers)")
        table_id = bitable.add_table(
            fake, app_token, _str(body, "name"), fields, table_id=str(body.get("table_id", ""))
        )
        rows = body.get("records") or []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise _bad("records must be a list of objects")
        record_ids = bitable.add_records(fake, app_token, table_id, rows) if rows else []
        return {"table_id": table_id, "record_ids": record_ids}

    @get("/_fake/bitable/records")
    async def bitable_records(req: FakeRequest) -> HandlerResult:
        found = bitable.records(fake, _query(req, "app_token"), _query(req, "table_id"))
        return {"items": found}

    @post("/_fake/apaas/tables")
    async def apaas_tables(req: FakeRequest) -> HandlerResult:
        body = _body(req)
        columns = _mapping(body, "columns")
        rows = body.get("rows")
        if rows is not None and not (
            isinstance(rows, list) and all(isinstance(r, dict) for r in rows)
        ):
            raise _bad("rows must be a list of objects")
        apaas.add_table(
            fake,
            _str(body, "workspace_id"),
            _str(body, "name"),
            {str(k): str(v) for k, v in columns.items()},
            unique=tuple(body.get("unique") or ()),
            rows=rows,
        )
        return {}

    @get("/_fake/apaas/rows")
    async def apaas_rows(req: FakeRequest) -> HandlerResult:
        return {"items": apaas.rows(fake, _query(req, "workspace_id"), _query(req, "name"))}

    @post("/_fake/sheets")
    async def add_spreadsheet(req: FakeRequest) -> HandlerResult:
        body = _body(req)
        sheet_ids = body.get("sheet_ids") or ["sheet1"]
        if not isinstance(sheet_ids, list) or not all(isinstance(s, str) for s in sheet_ids):
            raise _bad("sheet_ids must be a list of strings")
        token = sheets.add_spreadsheet(
            fake,
            _app(fake, body),
            title=str(body.get("title", "sheet")),
            sheet_ids=tuple(sheet_ids),
        )
        return {"spreadsheet_token": token}

    @post("/_fake/user_tokens")
    async def user_tokens(req: FakeRequest) -> HandlerResult:
        body = _body(req)
        return fake.issue_user_token(
            _app(fake, body),
            _str(body, "user_id"),
            expires_in=int(body.get("expires_in", 7200)),
            refresh_expires_in=int(body.get("refresh_expires_in", 2592000)),
            scope=str(body.get("scope", "")),
        )

    @post("/_fake/auth_codes")
    async def auth_codes(req: FakeRequest) -> HandlerResult:
        body = _body(req)
        redirect_uri = body.get("redirect_uri")
        fake.add_auth_code(
            _app(fake, body),
            _str(body, "user_id"),
            _str(body, "code"),
            redirect_uri=str(redirect_uri) if redirect_uri else None,
            scope=str(body.get("scope", "")),
        )
        return {}
