"""Fake Lark endpoints: contact/v3 users and departments, im/v1 chat info and members.

Routes (tenant or user token; ``batch_get_id`` tenant only, as documented):

    GET  /open-apis/contact/v3/users/:user_id                 -> {user}
    GET  /open-apis/contact/v3/users/batch?user_ids=…          -> {items}   (≤50 ids)
    POST /open-apis/contact/v3/users/batch_get_id              -> {user_list} (≤50 each)
    GET  /open-apis/contact/v3/users/find_by_department        -> paged {items}
    GET  /open-apis/contact/v3/departments/:id                 -> {department}
    GET  /open-apis/contact/v3/departments/:id/children        -> paged {items}
    GET  /open-apis/im/v1/chats/:chat_id                       -> the chat's fields
    GET  /open-apis/im/v1/chats/:chat_id/members               -> paged {items, member_total}

Errors, from Lark's docs (HTTP 400 unless said): unknown or invisible user 41050 "no user
authority error"; unknown department 40015 "department not exist"; bad page_size on
contact lists 40011 "page size is invalid" (1..50) and a bad page_token 40012; invalid
chat_id 232006; bot not in the chat 232011 (members only: chat info then returns just
name/avatar/description, as documented); an app denied a scope with `deny_scope` 99991672.
Chosen where the docs are silent: a bad enum value (user_id_type, department_id_type,
member_id_type), a missing required parameter, over 50 ids/emails/mobiles and a chat
members page_size over 100 answer 99992402 "field validation failed" (the gateway's
validation code); find_by_department and children also use 40015 for an unknown
department; resigned users are left out of lists and of batch_get_id unless
``include_resigned``. Page tokens are opaque and bound to the list they came from.

The directory and the test helpers are in `lark_service.testing.fake_lark.contact_directory` and are
re-exported here.
"""

from __future__ import annotations

import base64
from typing import Any

from lark_service.testing.fake_lark.contact_directory import (
    ROOT,
    Directory,
    add_chat,
    add_department,
    add_user,
    add_users,
    deny_scope,
    department_view,
    directory,
    hide_fields,
    user_id_of,
    user_view,
)
from lark_service.testing.fake_lark.models import FakeLarkError, FakeRequest
from lark_service.testing.fake_lark.server import FakeLark, HandlerResult

__all__ = [
    "ROOT",
    "add_chat",
    "add_department",
    "add_user",
    "add_users",
    "deny_scope",
    "directory",
    "hide_fields",
    "register",
]

USER_ID_TYPES = ("open_id", "union_id", "user_id")
DEPT_ID_TYPES = ("open_department_id", "department_id")
SCOPES = {
    "contact": "contact:contact.base:readonly, contact:contact:readonly_as_app",
    "im": "im:chat, im:chat:readonly",
}


def field_invalid(name: str) -> FakeLarkError:
    return FakeLarkError(400, 99992402, f"field validation failed: {name}")


def _enum(req: FakeRequest, name: str, allowed: tuple[str, ...]) -> str:
    value = req.query.get(name, allowed[0])
    if value not in allowed:
        raise field_invalid(name)
    return value


def _page_size(req: FakeRequest, default: int, maximum: int, code: int) -> int:
    raw = req.query.get("page_size", str(default))
    try:
        size = int(raw)
    except ValueError:
        raise field_invalid("page_size") from None
    if not 1 <= size <= maximum:
        if code == 99992402:
            raise field_invalid("page_size")
        raise FakeLarkError(400, code, "page size is invalid")
    return size


def _token(kind: str, key: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}|{key}|{offset}".encode()).decode()


def _offset(req: FakeRequest, kind: str, key: str, code: int, msg: str) -> int:
    token = req.query.get("page_token", "")
    if not token:
        return 0
    try:
        t_kind, t_key, raw = base64.urlsafe_b64decode(token.encode()).decode().split("|")
        if (t_kind, t_key) == (kind, key):
            return int(raw)
    except ValueError:
        pass
    raise FakeLarkError(400, code, msg)


def _page(items: list[Any], offset: int, size: int, kind: str, key: str) -> dict[str, Any]:
    end = offset + size
    page: dict[str, Any] = {"items": items[offset:end], "has_more": end < len(items)}
    if page["has_more"]:
        page["page_token"] = _token(kind, key, end)
    return page


def register(fake: FakeLark) -> None:
    """Register this module's routes on fake."""
    fake.on_reset(lambda: fake.state.pop("contact", None))

    def caller(
        req: FakeRequest, family: str, kinds: tuple[str, ...] = ("tenant", "user")
    ) -> Directory:
        token = fake.require_token(req, kinds=kinds)
        d = directory(fake, token.app_id)
        if family in d.denied:
            raise FakeLarkError(
                400,
                99991672,
                f"Access denied. One of the following scopes is required: [{SCOPES[family]}].",
            )
        return d

    def department(d: Directory, dept_id: str, id_type: str) -> dict[str, Any]:
        dept = d.find_department(dept_id, id_type)
        if dept is None:
            raise FakeLarkError(400, 40015, "department not exist")
        return dept

    @fake.route("GET", "/open-apis/contact/v3/users/batch")
    async def batch_users(req: FakeRequest) -> HandlerResult:
        d = caller(req, "contact")
        uid_type = _enum(req, "user_id_type", USER_ID_TYPES)
        dept_type = _enum(req, "department_id_type", DEPT_ID_TYPES)
        ids = req.query.getlist("user_ids")
        if not ids or len(ids) > 50:
            raise field_invalid("user_ids")
        found = (d.find_user(i, uid_type) for i in ids)
        return {"items": [user_view(d, u, uid_type, dept_type) for u in found if u]}

    @fake.route("POST", "/open-apis/contact/v3/users/batch_get_id")
    async def batch_get_id(req: FakeRequest) -> HandlerResult:
        d = caller(req, "contact", kinds=("tenant",))
        uid_type = _enum(req, "user_id_type", USER_ID_TYPES)
        body = req.json()
        if not isinstance(body, dict):
            raise field_invalid("body")
        emails, mobiles = body.get("emails") or [], body.get("mobiles") or []
        for name, values in (("emails", emails), ("mobiles", mobiles)):
            if not isinstance(values, list) or len(values) > 50:
                raise field_invalid(name)
        resigned_ok = bool(body.get("include_resigned", False))
        out: list[dict[str, Any]] = []
        for key, values in (("email", emails), ("mobile", mobiles)):
            for value in values:
                user = next((u for u in d.users.values() if u[key] == value), None)
                entry: dict[str, Any] = {key: value}
                if user is not None and (resigned_ok or not user["resigned"]):
                    entry["user_id"] = user_id_of(user, uid_type)
                    entry["status"] = user_view(d, user, uid_type, "open_department_id")["status"]
                out.append(entry)
        return {"user_list": out}

    @fake.route("GET", "/open-apis/contact/v3/users/find_by_department")
    async def find_by_department(req: FakeRequest) -> HandlerResult:
        d = caller(req, "contact")
        uid_type = _enum(req, "user_id_type", USER_ID_TYPES)
        dept_type = _enum(req, "department_id_type", DEPT_ID_TYPES)
        dept_id = req.query.get("department_id", "")
        if not dept_id:
            raise field_invalid("department_id")
        size = _page_size(req, 10, 50, 40011)
        open_id = department(d, dept_id, dept_type)["open_department_id"]
        offset = _offset(req, "users", open_id, 40012, "page token is invalid error")
        users = [d.users[o] for o in d.members[open_id] if not d.users[o]["resigned"]]
        page = _page(users, offset, size, "users", open_id)
        page["items"] = [user_view(d, u, uid_type, dept_type) for u in page["items"]]
        return page

    @fake.route("GET", "/open-apis/contact/v3/users/{user_id}")
    async def get_user(req: FakeRequest) -> HandlerResult:
        d = caller(req, "contact")
        uid_type = _enum(req, "user_id_type", USER_ID_TYPES)
        dept_type = _enum(req, "department_id_type", DEPT_ID_TYPES)
        user = d.find_user(req.path_params["user_id"], uid_type)
        if user is None:
            raise FakeLarkError(400, 41050, "no user authority error")
        return {"user": user_view(d, user, uid_type, dept_type)}

    @fake.route("GET", "/open-apis/contact/v3/departments/{department_id}")
    async def get_department(req: FakeRequest) -> HandlerResult:
        d = caller(req, "contact")
        dept_type = _enum(req, "department_id_type", DEPT_ID_TYPES)
        uid_type = _enum(req, "user_id_type", USER_ID_TYPES)
        dept = department(d, req.path_params["department_id"], dept_type)
        return {"department": department_view(d, dept, dept_type, uid_type)}

    @fake.route("GET", "/open-apis/contact/v3/departments/{department_id}/children")
    async def children(req: FakeRequest) -> HandlerResult:
        d = caller(req, "contact")
        dept_type = _enum(req, "department_id_type", DEPT_ID_TYPES)
        uid_type = _enum(req, "user_id_type", USER_ID_TYPES)
        # lark-oapi sends Python's str(True): booleans are read without regard to case
        recursive = req.query.get("fetch_child", "false").lower() in ("true", "1")
        size = _page_size(req, 10, 50, 40011)
        dept = department(d, req.path_params["department_id"], dept_type)
        key = f"{dept['open_department_id']}:{recursive}"
        offset = _offset(req, "children", key, 40012, "page token is invalid error")
        page = _page(
            d.children(dept["open_department_id"], recursive), offset, size, "children", key
        )
        page["items"] = [department_view(d, x, dept_type, uid_type) for x in page["items"]]
        return page

    def chat_of(d: Directory, chat_id: str) -> dict[str, Any]:
        chat = d.chats.get(chat_id)
        if chat is None:
            raise FakeLarkError(400, 232006, "Your request specifies a chat_id which is invalid.")
        return chat

    @fake.route("GET", "/open-apis/im/v1/chats/{chat_id}")
    async def get_chat(req: FakeRequest) -> HandlerResult:
        d = caller(req, "im")
        uid_type = _enum(req, "user_id_type", USER_ID_TYPES)
        chat = chat_of(d, req.path_params["chat_id"])
        view: dict[str, Any] = {
            "avatar": f"https://fake-lark.invalid/chat/{chat['chat_id']}.png",
            "name": chat["name"],
            "description": chat["description"],
            "i18n_names": {"zh_cn": chat["name"], "en_us": chat["name"], "ja_jp": chat["name"]},
        }
        if not chat["bot_in_chat"]:
            return view  # documented: only the basics when the bot is not a member
        owner = d.users.get(chat["owner"])
        view.update(
            chat_mode=chat["chat_mode"],
            chat_type=chat["chat_type"],
            chat_tag="inner",
            owner_id_type=uid_type if owner else "",
            owner_id=user_id_of(owner, uid_type) if owner else "",
            add_member_permission="all_members",
            share_card_permission="allowed",
            at_all_permission="all_members",
            edit_permission="all_members",
            user_manager_id_list=[],
            bot_manager_id_list=[],
            group_message_type="chat",
            join_message_visibility="all_members",
            leave_message_visibility="all_members",
            membership_approval="no_approval_required",
            moderation_permission="all_members",
            external=False,
            tenant_key=d.tenant_key,
            user_count=str(len(chat["members"])),
            bot_count="1",
            chat_status="normal",
        )
        return view

    @fake.route("GET", "/open-apis/im/v1/chats/{chat_id}/members")
    async def chat_members(req: FakeRequest) -> HandlerResult:
        d = caller(req, "im")
        id_type = _enum(req, "member_id_type", USER_ID_TYPES)
        size = _page_size(req, 20, 100, 99992402)
        chat = chat_of(d, req.path_params["chat_id"])
        if not chat["bot_in_chat"]:
            raise FakeLarkError(400, 232011, "Operator can NOT be out of the chat.")
        offset = _offset(req, "members", chat["chat_id"], 232001, "invalid page_token")
        users = [d.users[o] for o in chat["members"] if o in d.users]
        page = _page(users, offset, size, "members", chat["chat_id"])
        page["items"] = [
            {
                "member_id": user_id_of(u, id_type),
                "member_id_type": id_type,
                "name": u["name"],
                "tenant_key": d.tenant_key,
            }
            for u in page["items"]
        ]
        page["member_total"] = len(users)
        return page
