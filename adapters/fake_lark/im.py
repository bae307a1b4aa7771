"""Fake im/v1 messages, replies, edits, recalls, history and uploads (tenant token only).

Routes (lark-api-reference.md §3): POST/GET ``/open-apis/im/v1/messages`` (this send
replaces bot.py's minimal one and keeps its state: ``fake.messages``,
``fake.message_uuids``), POST ``…/{message_id}/reply``, GET / PUT / PATCH / DELETE
``…/{message_id}``, POST ``/open-apis/im/v1/images`` and ``/open-apis/im/v1/files``. Content
rules and frequency limits are in `adapters.fake_lark.im_rules`.

Test switches in ``fake.state`` (cleared on reset): ``im_denied_apps`` (set of app ids →
99991672 on every im call), ``im_bot_not_in_chat`` (set of ``(app_id, chat_id)`` → 230002),
``im_rate_scale`` (float, default 1.0; 0 disables the limits).

Errors, all HTTP 400 unless said: 230001 bad param; 230002 bot not in chat; 230009 recall after
24 h; 230011 the message was recalled; 230012 the bot is not the sender (edit, card update);
230025 content too long; 230026 recall of another sender's message; 230034 a chat_id that is
not ``oc_…``; 230054 operation not supported for the message type; 230099 bad card; 234001 bad
upload param, 234006 upload too large, 234010 empty upload, 234011 unknown image format.
Chosen where Lark's docs are silent (UNCONFIRMED): an unknown message_id answers 230001
``message_id not found``; editing a message a 21st time answers 230072; a recalled message
keeps its content and is returned with ``deleted: true`` by GET and by the history list; a
user's messages land in a p2p chat derived from (app, receiver); the page_token is the
decimal offset into the filtered list; page_size defaults to 20, at most 50.
"""

from __future__ import annotations

import secrets
from typing import Any

from adapters.fake_lark.bot import find_by_uuid, message_view, p2p_chat_id, store_message
from adapters.fake_lark.im_files import register_uploads
from adapters.fake_lark.im_rules import RateLimits, bad, check_content
from adapters.fake_lark.models import FakeLarkError, FakeRequest
from adapters.fake_lark.server import FakeLark, HandlerResult

RECEIVE_ID_TYPES = frozenset({"open_id", "union_id", "user_id", "email", "chat_id"})
MSG_TYPES = frozenset(
    {
        "text",
        "post",
        "image",
        "file",
        "audio",
        "media",
        "sticker",
        "interactive",
        "share_chat",
        "share_user",
    }
)
EDIT_MAX = 20
RECALL_WINDOW_S = 24 * 3600
PAGE_MAX = 50
_STATE_KEYS = (
    "im_denied_apps",
    "im_bot_not_in_chat",
    "im_rate_scale",
    "im_rate_clock",
    "im_images",
    "im_files",
    "im_limits",
)
DENIED = (
    "Access denied. One of the following scopes is required: [im:message, im:message:send_as_bot]"
)


def view(msg: dict[str, Any]) -> dict[str, Any]:
    out = message_view(msg)
    if msg.get("thread_id"):
        out["thread_id"] = msg["thread_id"]
    return out


def register(fake: FakeLark) -> None:
    """Register the im routes on ``fake``."""
    state = fake.state

    def forget() -> None:
        for key in _STATE_KEYS:
            state.pop(key, None)

    fake.on_reset(forget)

    def limits() -> RateLimits:
        found: RateLimits | None = state.get("im_limits")
        if found is None:
            found = state["im_limits"] = RateLimits(state)
        return found

    def caller(req: FakeRequest) -> tuple[str, str]:
        token = fake.require_token(req, kinds=("tenant",))
        if token.app_id in state.get("im_denied_apps", ()):
            raise FakeLarkError(400, 99991672, DENIED)
        return token.app_id, token.tenant_key

    def in_chat(app_id: str, chat_id: str) -> None:
        if (app_id, chat_id) in state.get("im_bot_not_in_chat", ()):
            raise FakeLarkError(400, 230002, "The bot can not be outside the group.")

    def find(message_id: str) -> dict[str, Any]:
        for msg in reversed(fake.messages):
            if msg["message_id"] == message_id:
                found: dict[str, Any] = msg
                return found
        raise bad("message_id not found")

    def live(message_id: str) -> dict[str, Any]:
        msg = find(message_id)
        if msg.get("deleted"):
            raise FakeLarkError(400, 230011, "The message is recalled.")
        return msg

    def body_of(req: FakeRequest) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict):
            raise bad("body")
        return body

    def check_uuid(uuid: object) -> str:
        if uuid is not None and (not isinstance(uuid, str) or len(uuid) > 50):
            raise bad("uuid")
        return uuid or ""

    @fake.route("POST", "/open-apis/im/v1/messages")
    async def create_message(req: FakeRequest) -> HandlerResult:
        app_id, tenant_key = caller(req)
        id_type = req.query.get("receive_id_type", "")
        if id_type not in RECEIVE_ID_TYPES:
            raise bad("receive_id_type")
        body = body_of(req)
        receive_id, msg_type = body.get("receive_id"), body.get("msg_type")
        if not isinstance(receive_id, str) or not receive_id:
            raise bad("receive_id")
        if id_type == "chat_id" and not receive_id.startswith("oc_"):
            raise FakeLarkError(400, 230034, "The receive_id is invalid.")
        chat_id = receive_id if id_type == "chat_id" else p2p_chat_id(app_id, receive_id)
        limits().check(app_id, "im.message.create", chat_id)
        if msg_type not in MSG_TYPES:
            raise bad("msg_type")
        content = body.get("content")
        check_content(state, app_id, msg_type, content)
        uuid = check_uuid(body.get("uuid"))
        in_chat(app_id, chat_id)
        existing = find_by_uuid(fake, app_id, uuid)
        if existing is not None:
            return view(existing)
        msg = {
            "app_id": app_id,
            "tenant_key": tenant_key,
            "receive_id": receive_id,
            "receive_id_type": id_type,
            "chat_id": chat_id,
            "msg_type": msg_type,
            "content": content,
            "uuid": uuid,
            "root_id": "",
            "parent_id": "",
            "deleted": False,
            "updated": False,
        }
        return view(store_message(fake, msg))

    @fake.route("POST", "/open-apis/im/v1/messages/{message_id}/reply")
    async def reply(req: FakeRequest) -> HandlerResult:
        app_id, tenant_key = caller(req)
        parent = live(req.path_params["message_id"])
        limits().check(app_id, "im.message.reply", parent["chat_id"])
        body = body_of(req)
        msg_type, content = body.get("msg_type"), body.get("content")
        if msg_type not in MSG_TYPES:
            raise bad("msg_type")
        check_content(state, app_id, msg_type, content)
        uuid = check_uuid(body.get("uuid"))
        in_chat(app_id, parent["chat_id"])
        existing = find_by_uuid(fake, app_id, uuid)
        if existing is not None:
            return view(existing)
        thread_id = parent.get("thread_id", "")
        if body.get("reply_in_thread") and not thread_id:
            thread_id = parent["thread_id"] = "omt_" + secrets.token_hex(8)
        msg = {
            "app_id": app_id,
            "tenant_key": tenant_key,
            "receive_id": parent["chat_id"],
            "receive_id_type": "chat_id",
            "chat_id": parent["chat_id"],
            "msg_type": msg_type,
            "content": content,
            "uuid": uuid,
            "root_id": parent["root_id"] or parent["message_id"],
            "parent_id": parent["message_id"],
            "thread_id": thread_id,
            "deleted": False,
            "updated": False,
        }
        return view(store_message(fake, msg))

    @fake.route("GET", "/open-apis/im/v1/messages/{message_id}")
    async def get_message(req: FakeRequest) -> HandlerResult:
        app_id, _ = caller(req)
        msg = find(req.path_params["message_id"])
        in_chat(app_id, msg["chat_id"])
        return {"items": [view(msg)]}

    def own_live(req: FakeRequest, app_id: str) -> dict[str, Any]:
        msg = live(req.path_params["message_id"])
        if msg["app_id"] != app_id:
            raise FakeLarkError(400, 230012, "Bot is NOT the sender of the message.")
        in_chat(app_id, msg["chat_id"])
        return msg

    def touch(msg: dict[str, Any], content: str) -> None:
        msg["content"] = content
        msg["updated"] = True
        msg["update_time"] = str(int(fake.now() * 1000))

    @fake.route("PUT", "/open-apis/im/v1/messages/{message_id}")
    async def update(req: FakeRequest) -> HandlerResult:
        app_id, _ = caller(req)
        limits().check(app_id, "im.message.update", None)
        msg = own_live(req, app_id)
        if msg["msg_type"] not in ("text", "post"):
            raise FakeLarkError(
                400, 230054, "This operation is not supported for this message type."
            )
        body = body_of(req)
        msg_type, content = body.get("msg_type"), body.get("content")
        if msg_type not in ("text", "post"):
            raise bad("msg_type must be text or post")
        check_content(state, app_id, msg_type, content)
        if msg.get("edits", 0) >= EDIT_MAX:
            raise FakeLarkError(
                400, 230072, "The message has reached the number of times it can be edited."
            )
        msg["edits"] = msg.get("edits", 0) + 1
        msg["msg_type"] = msg_type
        touch(msg, content)  # type: ignore[arg-type]
        return view(msg)

    @fake.route("PATCH", "/open-apis/im/v1/messages/{message_id}")
    async def patch_card(req: FakeRequest) -> HandlerResult:
        app_id, _ = caller(req)
        limits().check(app_id, "im.message.patch", None)
        msg = own_live(req, app_id)
        if msg["msg_type"] != "interactive":
            raise FakeLarkError(
                400, 230054, "This operation is not supported for this message type."
            )
        content = body_of(req).get("content")
        check_content(state, app_id, "interactive", content)
        touch(msg, content)  # type: ignore[arg-type]
        return {}

    @fake.route("DELETE", "/open-apis/im/v1/messages/{message_id}")
    async def recall(req: FakeRequest) -> HandlerResult:
        app_id, _ = caller(req)
        limits().check(app_id, "im.message.delete", None)
        msg = live(req.path_params["message_id"])
        if msg["app_id"] != app_id:
            raise FakeLarkError(400, 230026, "No permission to recall this message.")
        in_chat(app_id, msg["chat_id"])
        if fake.now() - int(msg["create_time"]) / 1000 > RECALL_WINDOW_S:
            raise FakeLarkError(400, 230009, "Message can only be recalled within one days.")
        msg["deleted"] = True
        return {}

    @fake.route("GET", "/open-apis/im/v1/messages")
    async def list_messages(req: FakeRequest) -> HandlerResult:
        app_id, _ = caller(req)
        q = req.query
        kind, container = q.get("container_id_type", ""), q.get("container_id", "")
        if kind not in ("chat", "thread") or not container:
            raise bad("container_id_type / container_id")
        sort = q.get("sort_type", "ByCreateTimeAsc")
        if sort not in ("ByCreateTimeAsc", "ByCreateTimeDesc"):
            raise bad("sort_type")
        try:
            size = int(q.get("page_size", "20"))
            offset = int(q.get("page_token") or 0)
            start = int(q["start_time"]) * 1000 if q.get("start_time") else None
            end = int(q["end_time"]) * 1000 if q.get("end_time") else None
        except ValueError:
            raise bad("page_size / page_token / start_time / end_time") from None
        if not 1 <= size <= PAGE_MAX or offset < 0:
            raise bad("page_size must be 1 to 50")
        field = "chat_id" if kind == "chat" else "thread_id"
        found = [m for m in fake.messages if m.get(field) == container]
        if kind == "chat" and found:
            in_chat(app_id, container)
        found = [
            m
            for m in found
            if (start is None or int(m["create_time"]) >= start)
            and (end is None or int(m["create_time"]) <= end)
        ]
        if sort == "ByCreateTimeDesc":  # newest first; equal times in reverse send order
            found.reverse()
            found.sort(key=lambda m: -int(m["create_time"]))
        else:
            found.sort(key=lambda m: int(m["create_time"]))
        page = found[offset : offset + size]
        more = offset + size < len(found)
        return {
            "has_more": more,
            "page_token": str(offset + size) if more else "",
            "items": [view(m) for m in page],
        }

    register_uploads(fake, caller, limits)
