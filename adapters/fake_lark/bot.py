"""Bot info and a minimal message send, as Lark serves them.

``GET /open-apis/bot/v3/info`` (tenant token) answers, like Lark, with ``bot`` at the top
level instead of under ``data``: ``{"code":0,"msg":"ok","bot":{"activate_status":2,
"app_name","avatar_url","ip_white_list":[],"open_id":"ou_…"}}``. ``app_name`` is the app's
name in the fake (its app_id when none was given) and ``open_id`` is stable per app.

``POST /open-apis/im/v1/messages?receive_id_type=…`` (tenant token) takes ``{receive_id,
msg_type, content, uuid?}`` and replies ``data`` = the Message (reference §3). Validation,
all HTTP 400 code 230001: receive_id_type not one of open_id/union_id/user_id/email/chat_id,
an empty receive_id, an unknown msg_type, ``content`` not a string holding JSON, a uuid
over 50 characters. A repeated ``uuid`` of the same app within 1 h returns the first message
and stores nothing. Chosen where Lark is silent: a message to a user lands in a p2p chat whose
chat_id is derived from (app, receive_id). Messages live in ``fake.messages`` and the uuid
index in ``fake.message_uuids`` so that a fuller ``im`` module can take this handler over.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import msgspec

from adapters.fake_lark.models import FakeLarkError, FakeRequest
from adapters.fake_lark.server import FakeLark, HandlerResult

RECEIVE_ID_TYPES = frozenset({"open_id", "union_id", "user_id", "email", "chat_id"})
# what an app may send (im.py); this minimal send also takes "system"
SENDABLE_MSG_TYPES = frozenset(
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
MSG_TYPES = SENDABLE_MSG_TYPES | {"system"}
UUID_WINDOW_MS = 3600 * 1000


def bad_param(msg: str) -> FakeLarkError:
    return FakeLarkError(400, 230001, f"param is invalid: {msg}")


def p2p_chat_id(app_id: str, receive_id: str) -> str:
    return "oc_" + hashlib.sha256(f"p2p:{app_id}:{receive_id}".encode()).hexdigest()[:32]


def message_view(msg: dict[str, Any]) -> dict[str, Any]:
    """The Message shape Lark returns for a stored message."""
    return {
        "message_id": msg["message_id"],
        "root_id": msg.get("root_id", ""),
        "parent_id": msg.get("parent_id", ""),
        "msg_type": msg["msg_type"],
        "create_time": msg["create_time"],
        "update_time": msg.get("update_time", msg["create_time"]),
        "deleted": msg.get("deleted", False),
        "updated": msg.get("updated", False),
        "chat_id": msg["chat_id"],
        "sender": {
            "id": msg["app_id"],
            "id_type": "app_id",
            "sender_type": "app",
            "tenant_key": msg.get("tenant_key", ""),
        },
        "body": {"content": msg["content"]},
    }


def store_message(fake: FakeLark, msg: dict[str, Any]) -> dict[str, Any]:
    """Append ``msg`` (adding message_id, create/update_time) and index its uuid."""
    now_ms = str(int(fake.now() * 1000))
    msg.setdefault("message_id", "om_" + secrets.token_hex(16))
    msg.setdefault("create_time", now_ms)
    msg.setdefault("update_time", now_ms)
    fake.messages.append(msg)
    if msg.get("uuid"):
        fake.message_uuids[(msg["app_id"], msg["uuid"])] = msg
    return msg


def json_body(req: FakeRequest) -> dict[str, Any]:
    """The request's JSON object (230001 otherwise)."""
    body = req.json()
    if not isinstance(body, dict):
        raise bad_param("body")
    return body


def checked_uuid(uuid: object) -> str:
    """A send's dedup uuid: absent (→ "") or a string of at most 50 characters."""
    if uuid is not None and (not isinstance(uuid, str) or len(uuid) > 50):
        raise bad_param("uuid")
    return uuid or ""


def new_record(
    app_id: str,
    tenant_key: str,
    receive_id: str,
    receive_id_type: str,
    chat_id: str,
    msg_type: str,
    content: object,
    uuid: str,
) -> dict[str, Any]:
    """A message record as `store_message` keeps it, before its id and times."""
    return {
        "app_id": app_id,
        "tenant_key": tenant_key,
        "receive_id": receive_id,
        "receive_id_type": receive_id_type,
        "chat_id": chat_id,
        "msg_type": msg_type,
        "content": content,
        "uuid": uuid,
        "root_id": "",
        "parent_id": "",
        "deleted": False,
        "updated": False,
    }


def find_by_uuid(fake: FakeLark, app_id: str, uuid: str | None) -> dict[str, Any] | None:
    if not uuid:
        return None
    found = fake.message_uuids.get((app_id, uuid))
    if found is None or fake.now() * 1000 - int(found["create_time"]) >= UUID_WINDOW_MS:
        return None
    return found


def register(fake: FakeLark) -> None:
    @fake.route("GET", "/open-apis/bot/v3/info")
    async def bot_info(req: FakeRequest) -> HandlerResult:
        token = fake.require_token(req, kinds=("tenant",))
        app = fake.get_app(token.app_id)
        bot = {
            "activate_status": 2,
            "app_name": app.name,
            "avatar_url": f"https://fake-lark.invalid/avatar/{app.app_id}.png",
            "ip_white_list": [],
            "open_id": app.open_id,
        }
        return 200, {"code": 0, "msg": "ok", "bot": bot}

    @fake.route("POST", "/open-apis/im/v1/messages")
    async def create_message(req: FakeRequest) -> HandlerResult:
        token = fake.require_token(req, kinds=("tenant",))
        id_type = req.query.get("receive_id_type", "")
        if id_type not in RECEIVE_ID_TYPES:
            raise bad_param("receive_id_type")
        body = json_body(req)
        receive_id, msg_type = body.get("receive_id"), body.get("msg_type")
        content = body.get("content")
        if not isinstance(receive_id, str) or not receive_id:
            raise bad_param("receive_id")
        if msg_type not in MSG_TYPES:
            raise bad_param("msg_type")
        if not isinstance(content, str):
            raise bad_param("content must be a JSON string")
        try:
            msgspec.json.decode(content)
        except msgspec.DecodeError:
            raise bad_param("content is not valid JSON") from None
        uuid = checked_uuid(body.get("uuid"))
        existing = find_by_uuid(fake, token.app_id, uuid)
        if existing is not None:
            return message_view(existing)
        chat_id = receive_id if id_type == "chat_id" else p2p_chat_id(token.app_id, receive_id)
        record = new_record(
            token.app_id, token.tenant_key, receive_id, id_type, chat_id, msg_type, content, uuid
        )
        msg = store_message(fake, record)
        return message_view(msg)
